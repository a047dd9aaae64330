"""Building blocks: shrinkage and SE gates, residual units."""

from deepshrink.layers.blocks import BasicBlock, BottleneckBlock, PadShortcut, make_shortcut
from deepshrink.layers.gates import GateMLP, Shrinkage, SqueezeExcite, ThresholdRecord, record_thresholds

__all__ = [
    "BasicBlock", "BottleneckBlock", "PadShortcut", "make_shortcut",
    "GateMLP", "Shrinkage", "SqueezeExcite", "ThresholdRecord", "record_thresholds",
]  # fmt: skip
