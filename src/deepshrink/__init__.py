"""deepshrink: Deep Residual Shrinkage Networks (Zhao et al. 2020) in PyTorch.

The layers and models depend on torch only; data, training and the study add numpy, scipy
and matplotlib. Start with :func:`create_model` and :func:`list_models`.
"""

from deepshrink import functional
from deepshrink._version import __version__  # noqa: F401 (the package attribute)
from deepshrink.convert import add_shrinkage
from deepshrink.errors import (
    CheckpointError,
    ConfigError,
    DatasetError,
    DeepshrinkError,
)
from deepshrink.functional import soft_threshold
from deepshrink.layers import (
    BasicBlock,
    BottleneckBlock,
    Shrinkage,
    SqueezeExcite,
    record_thresholds,
)
from deepshrink.models import ResidualNet, create_model, list_models
from deepshrink.serialization import from_pretrained, save_pretrained
from deepshrink.predict.loading import load

__all__ = [
    "BasicBlock", "BottleneckBlock", "CheckpointError", "ConfigError", "DatasetError", "DeepshrinkError",
    "ResidualNet", "Shrinkage", "SqueezeExcite", "create_model", "functional", "list_models",
    "from_pretrained", "record_thresholds", "save_pretrained", "soft_threshold", "add_shrinkage", "load",
]  # fmt: skip
