"""User-facing errors.

Adapters (config, data, checkpoint, sweep) raise these; ``cli.py`` alone turns
them into one red line on stderr and exit code 1.  Anything else that escapes
is a bug and is allowed to show its traceback.
"""


class NnctlError(Exception):
    """An error caused by the user's input, with a message fit to print as is."""


class ConfigError(NnctlError):
    """A config file or ``--set`` override is invalid."""


class DataError(NnctlError):
    """A CSV file cannot be used as asked."""


class MissingColumn(DataError):
    """A column a config names is not in the file; ``column`` says which, so that the message can
    name the config key that asked for it."""

    def __init__(self, message: str, column: str):
        super().__init__(message)
        self.column = column


class CheckpointError(NnctlError):
    """A checkpoint file is missing, damaged or incompatible."""


class TrainingError(NnctlError):
    """Training cannot go on (for example, the loss is no longer finite)."""


class OutputError(NnctlError):
    """A result file or directory cannot be written where it was asked for."""
