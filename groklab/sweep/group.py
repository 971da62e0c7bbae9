"""Training a pack away from the store: the function a Ray task or a local worker process runs.

It returns plain data (configs, metric histories, checkpoints as numpy arrays, timings) that the driver
alone writes into the store (``groklab.sweep.record.record_result``)."""

from __future__ import annotations

import time

import numpy as np

from groklab.config import from_dict
from groklab.sweep.timing import time_trainer
from groklab.train.ensemble import Evaluation

# a pack trained on one core (a worker process or a 1-CPU Ray task) runs XLA single-threaded
ONE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def train_group(configs: list[dict]) -> dict:
    """Train one pack's configs as an ensemble without touching any store (a Ray task or a worker
    process runs this). Returns plain data: the configs, every evaluation and checkpoint callback in
    order (numpy arrays; optimizer state kept for the last checkpoint only, the one a resume needs),
    the final parameters, compile, wall and CPU seconds, the code version and machine."""
    from groklab import api
    from groklab.train.examples import Recorder
    from groklab.train.loop import Trainer
    from groklab.train.subsets import records_examples
    from groklab.train.until import stop_rule

    t0, c0 = time.perf_counter(), time.process_time()
    cfgs = [from_dict(c) for c in configs]
    trainer = Trainer(cfgs)
    events: list[list] = []
    until = stop_rule(cfgs[0], len(cfgs))      # the worker stops where api.fit's replay of it will
    examples: list[list] = []                  # a subset ensemble's per-example measures: [step or None, arrays, meta]
    record = Recorder(trainer, lambda *a: examples.append(list(a))) if records_examples(cfgs[0]) else None
    dead: set[int] = set()

    def on_eval(ev: Evaluation) -> None:
        dead.update(int(e) for e in np.nonzero(ev.diverged)[0])
        events.append(["eval", ev.step, {k: np.array(v) for k, v in ev.metrics.items()}, ev.alive, ev.diverged,
                       time.perf_counter() - t0])
        if until is not None:
            until.update(ev)

    def on_checkpoint(step: int, params: dict[str, np.ndarray], opt: dict[str, np.ndarray]) -> None:
        for ev in events:
            if ev[0] == "ckpt":
                ev[3] = {}
        events.append(["ckpt", step, params, opt])
        if record is not None:
            record(step, params, [e for e in range(len(cfgs)) if e not in dead])

    out = trainer.fit(on_eval, on_checkpoint, stop=until)
    return {"configs": configs, "events": events, "params": out["params"], "compile_s": trainer.compile_s,
            **({"examples": examples} if record is not None else {}),
            "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
            "code_version": api.code_version(), "machine": api.machine(), "flops": api.step_flops(trainer)}


def warm_train(config: dict) -> dict:
    """``train_group`` of one config in a worker that has built and compiled it once already, as
    every separate run after a worker's first one is."""
    from groklab.train.loop import Trainer

    time_trainer(lambda: Trainer([from_dict(config)]), 0.0)
    return train_group([config])
