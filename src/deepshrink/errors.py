"""One exception type per area, so callers (and the CLI) can tell user mistakes from bugs.

Every message names the file or argument at fault and what is wrong with it; the CLI prints
the message as one line and exits with status 2.
"""


class DeepshrinkError(Exception):
    """Base class of every error deepshrink raises on purpose for bad input."""


class ConfigError(DeepshrinkError, ValueError):
    """A model name, option value or configuration file is wrong."""


class DatasetError(DeepshrinkError, ValueError):
    """A dataset folder, file or array is missing, malformed or unusable."""


class CheckpointError(DeepshrinkError, ValueError):
    """A run folder, weights file or checkpoint is missing, unsafe or incompatible."""


class ShapeError(DeepshrinkError, ValueError):
    """A tensor given to a layer or model has the wrong number of dims or channels."""


class DeepshrinkWarning(UserWarning):
    """Something was repaired or left out on purpose (a cut row of a bookkeeping file, say): said once, in one line."""
