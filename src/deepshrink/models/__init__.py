"""The model family: one skeleton, named presets."""

from deepshrink.models.registry import FAMILIES, PRESETS, create_model, describe_model, list_models, model_config
from deepshrink.models.skeleton import ResidualNet

__all__ = ["FAMILIES", "PRESETS", "ResidualNet", "create_model", "describe_model", "list_models", "model_config"]
