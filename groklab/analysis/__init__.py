"""Interpretability of a stored run, read off its checkpoints alone (no retraining).

``analyze_run`` rebuilds the run's dataset and model from its config, loads every checkpoint and
(``analyze_checkpoints``, which takes the checkpoints as an iterator and knows no store) computes,
per family of task:

- modular arithmetic (Nanda et al. 2023; Pearce et al. 2023; Doshi et al. 2023; Liu et al.
  2022), at every checkpoint: the embedding spectrum and its Gini coefficient, the Gini of the
  unembedding side (W_out·W_U, or an MLP's W_out), the sum of squared weights per tensor, the
  mean IPR of the neurons' token weights, cross-entropy on the train and test pairs, and for
  tasks whose labels are a ± b: restricted loss, excluded loss, the share of logit variance along
  cos(w_k(a ± b − c)) and RQI. At the final checkpoint (or, for a run that generalized and then
  lost it, at its last checkpoint near its best test accuracy): neuron frequencies and clusters,
  key frequencies (by neurons and by embedding norms), the clock (each token's embedding on the
  cos/sin plane of each key frequency), per-neuron DFT "stars" and the token-weight heatmap
  sorted by frequency. Then Nanda's three phases (``phase_boundaries``) and a one-line verdict
  (``circuit_verdict``).
- sparse parity (Barak et al. 2022): the weight each first-layer neuron puts on each bit, the
  bits that stand out, and whether they are the task's bits; per checkpoint, the share of
  first-layer weight on the task's bits.
- every task: losses, accuracies and weight norms per checkpoint; measures that do not apply
  are listed under ``not_applicable`` with the reason.

``run_view`` turns a run and its analysis into the report's view dict (see ``groklab.report``).
Results are cached in the store under ``ANALYSIS_KEY`` with a fingerprint of the run's config,
checkpoints and metrics, so a resumed or changed run is analyzed again.

Conventions and approximations (also returned in ``notes`` where they apply):

- Weights are read off each model by its own readouts (``groklab.models.Model``), restricted to
  the tokens of Z_p. "Token weights" (``token_weights``), one row per token of operand a: a
  transformer's W_E[:p]; an embedding MLP's W_E[:p]; a one-hot MLP's W_in block of each operand
  (the spectrum uses both blocks side by side, the neurons the block of operand a).
- "Neuron token weights" (``neuron_weights``) [n_neurons, p]: how token a feeds each first-layer
  neuron. One-hot MLP: W_in[:p]ᵀ; embedding MLP: (W_E[:p]·W_in[:d_embed])ᵀ; transformer: the OV
  path into the first block's MLP, (W_E[:p]·Σ_h W_V^h W_O^h·W_in)ᵀ, which assumes every head
  attends to a alike and ignores LayerNorm. The unembedding side is ``unembedding`` (W_out·W_U,
  or an MLP's W_out); a parity MLP's per-bit weights are ``bit_weights``.
- RQI (Liu et al. 2022) counts parallelograms i + j = m + n of integers: it measures a linear
  representation of addition, which a clock (circle) embedding is not, so a grokked Fourier
  model scores near 0 on it.
- Losses in the progress measures are cross-entropies of the checkpoint's logits (Nanda's
  measures), whatever loss the run trained on; the phases are read off the run's own metric
  curves, which are evaluated more often than checkpoints are saved.

Modules: ``compute`` (the analysis of an iterator of checkpoints), ``subject`` (dataset, model and
task family; the forward pass), ``structure`` (key frequencies, neurons, clock, parity bits,
checks), ``phases`` (``phase_boundaries``, ``PHASE_RULE``), ``circuit`` (the circuit test in the basis the
task's labels call for: basis, components, ablation, and the tested verdict), ``stored`` (store reads and the
cache), ``view`` (the report's view), ``fmt`` (rounding and sentences).
"""

from __future__ import annotations

from groklab.analysis.compute import RQI_SAMPLES, analyze_checkpoints, reference_step
from groklab.analysis.fmt import DIGITS
from groklab.analysis.phases import DESCENT_END, DESCENT_START, NORM_SETTLED, PHASE_RULE, phase_boundaries
from groklab.analysis.stored import ANALYSIS_KEY, analyze_run
from groklab.analysis.structure import LOW_LOSS
from groklab.analysis.view import run_view

__all__ = ["ANALYSIS_KEY", "DESCENT_END", "DESCENT_START", "DIGITS", "LOW_LOSS", "NORM_SETTLED",
           "PHASE_RULE", "RQI_SAMPLES", "analyze_checkpoints", "analyze_run", "phase_boundaries",
           "reference_step", "run_view"]
