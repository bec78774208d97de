"""Errors a user can act on.

Each carries a one-line message saying what went wrong and how to fix it. The CLI prints
`deepnet: error: <message>` and exits non-zero without a traceback (`--debug` shows it).
Anything that is not a DeepnetError is a bug in deepnet and keeps its traceback.
"""


class DeepnetError(Exception):
    """Base class: a problem with the user's input, data or environment."""

    exit_code = 2


class ConfigError(DeepnetError):
    """Bad flag, wrong type, unknown system/experiment/dataset name."""


class DataError(DeepnetError):
    """A dataset is missing, truncated or corrupt."""


class CheckpointError(DeepnetError):
    """A checkpoint or run folder that cannot be used (missing, foreign, not a checkpoint)."""


class TrainingDiverged(DeepnetError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""

    exit_code = 3
