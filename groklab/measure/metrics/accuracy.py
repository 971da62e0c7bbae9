"""Loss and accuracy on the training and held-out rows (Power et al. 2022's curves)."""

from groklab.measure.registry import Metric, Panel, register

TRAIN, TEST = "#3b5bdb", "#e8590c"

register(
    Panel("accuracy", "curves", "Accuracy", "accuracy", order=10, y_range=(0, 1), percent=True, badge="phase"),
    Panel("loss", "curves", "Loss", "loss", order=11, log_y=True),
    Metric("train_loss", lambda c: c.mean(c.loss, c.is_train), "mean loss on the training rows (observed labels)",
           final=True, panel="loss", label="train", color=TRAIN, order=10),
    Metric("train_acc", lambda c: c.mean(c.correct, c.is_train), "accuracy on the training rows",
           final=True, panel="accuracy", label="train", color=TRAIN, order=11),
    Metric("test_loss", lambda c: c.mean(c.loss, c.is_test), "mean loss on the held-out rows",
           final=True, panel="loss", label="test", color=TEST, order=12),
    Metric("test_acc", lambda c: c.mean(c.correct, c.is_test), "accuracy on the held-out rows",
           final=True, panel="accuracy", label="test", color=TEST, order=13),
)
