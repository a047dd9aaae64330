"""Building blocks: shrinkage and SE gates, APReLU, residual units."""

from deepshrink.layers.activations import APReLU
from deepshrink.layers.blocks import BasicBlock, BottleneckBlock, PadShortcut, make_shortcut
from deepshrink.layers.gates import GateConv, GateMLP, Shrinkage, SqueezeExcite, ThresholdRecord, record_thresholds

__all__ = [
    "BasicBlock", "BottleneckBlock", "PadShortcut", "make_shortcut",
    "APReLU", "GateConv", "GateMLP", "Shrinkage", "SqueezeExcite", "ThresholdRecord", "record_thresholds",
]  # fmt: skip
