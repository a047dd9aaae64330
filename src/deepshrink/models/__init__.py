"""The model family: one skeleton, named presets."""

from deepshrink.models.registry import (
    FAMILIES,
    PRESETS,
    create_model,
    describe_model,
    is_model,
    list_models,
    model_config,
    model_family,
    model_label,
    plain_counterpart,
    uses_shrinkage,
)
from deepshrink.models.skeleton import ResidualNet

__all__ = [
    "FAMILIES", "PRESETS", "ResidualNet", "create_model", "describe_model", "is_model", "list_models", "model_config",
    "model_family", "model_label", "plain_counterpart", "uses_shrinkage",
]  # fmt: skip
