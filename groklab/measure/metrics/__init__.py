"""Built-in per-step metrics, one declaration file each (see ``groklab.measure.registry``).

Every module in this package is imported by the registry; a new metric is a new file here.
"""
