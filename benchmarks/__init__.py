"""groklab's benchmarks: run from a source checkout (``groklab bench`` or ``python benchmarks/bench.py``)."""
