"""Errors a user can cause, each carrying one line that names the field and what is allowed.

The CLI turns every ``GroklabError`` into that line on stderr and exit code 2, with no traceback.
"""


class GroklabError(Exception):
    """Base class of every error caused by input (flags, files, store paths, run ids)."""


class ConfigError(GroklabError, ValueError):
    """A configuration value is invalid: the message names the field and what is allowed."""


class StoreError(GroklabError):
    """The run store cannot do what was asked (missing run, corrupt file, unsafe path)."""


class AmbiguousRefError(StoreError):
    """A run id prefix that matches more than one run."""
