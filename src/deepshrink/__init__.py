"""deepshrink: Deep Residual Shrinkage Networks in PyTorch."""

from deepshrink.errors import CheckpointError, ConfigError, DatasetError, DeepshrinkError

__version__ = "0.1.0"
