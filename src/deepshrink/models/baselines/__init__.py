"""The field's baseline networks, with the same protocol as :class:`~deepshrink.models.skeleton.ResidualNet`.

* :class:`WDCNN`: Zhang, Peng, Li, Chen, Zhang, "A new deep learning model for fault diagnosis with
  good anti-noise and domain adaptation ability on raw vibration signals", Sensors 17(2):425, 2017
  (Table 1): the standard 1-D CNN for CWRU under noise.
* :class:`FCN` and :class:`FawazResNet`: Wang, Yan, Oates, "Time series classification from scratch
  with deep neural networks: a strong baseline", IJCNN 2017, as benchmarked by Ismail Fawaz et al.,
  "Deep learning for time series classification: a review", DMKD 33, 2019 (hfawaz/dl-4-tsc,
  ``classifiers/fcn.py``, ``classifiers/resnet.py``).
* :class:`InceptionTime`: Ismail Fawaz et al., "InceptionTime: finding AlexNet for time series
  classification", DMKD 34, 2020 (hfawaz/InceptionTime, ``classifiers/inception.py``).

Every argument is a plain value and ``model.config`` holds them all plus ``arch`` (the class's
short name), so a generic builder rebuilds any of them from ``config.json``. ``stack=S`` builds S
independent networks side by side exactly as :mod:`deepshrink.models.stacked` expects: grouped
convolutions and per-channel BatchNorm whose slices follow each other on dim 0, and
:class:`~deepshrink.layers.gates.StackedLinear` heads with a leading S dim; where a network
concatenates branches or flattens, each slice's channels are kept contiguous.

Convolutions and BatchNorm use PyTorch's defaults (the Keras references use Glorot-uniform
weights, zero biases and BatchNorm eps 1e-3, momentum 0.99); ``init="glorot_uniform"`` gives the
references' weight initialisation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from deepshrink.errors import ConfigError
from deepshrink.models.baselines._base import BASELINE_INITS
from deepshrink.models.baselines.tsc import (
    FCN,
    FCN_RANGES,
    INCEPTION_TIME_RANGES,
    FawazResNet,
    InceptionTime,
    check_fawaz_resnet_config,
    check_fcn_config,
    check_inception_time_config,
)
from deepshrink.models.baselines.wdcnn import WDCNN, WDCNN_RANGES, check_wdcnn_config, wdcnn_output_length

__all__ = [
    "WDCNN", "FCN", "FawazResNet", "InceptionTime", "BASELINES", "BASELINE_INITS",
    "WDCNN_RANGES", "FCN_RANGES", "INCEPTION_TIME_RANGES",
    "check_wdcnn_config", "check_fcn_config", "check_fawaz_resnet_config", "check_inception_time_config",
    "check_config", "wdcnn_output_length",
]  # fmt: skip

BASELINES: dict[str, tuple[type[nn.Module], Callable[[Mapping[str, Any], str], None]]] = {
    WDCNN.arch: (WDCNN, check_wdcnn_config),
    FCN.arch: (FCN, check_fcn_config),
    FawazResNet.arch: (FawazResNet, check_fawaz_resnet_config),
    InceptionTime.arch: (InceptionTime, check_inception_time_config),
}
"""``arch`` name -> (class, check of its arguments)."""


def check_config(args: Mapping[str, Any], where: str = "model arguments") -> None:
    """Check a baseline's arguments by the ``arch`` key of ``args`` (the other keys as the class's check).

    Raises:
        ConfigError: no or an unknown ``arch``, or a bad argument; naming ``where``.
    """
    if not isinstance(args, Mapping):
        raise ConfigError(f"{where}: expected a mapping of argument name to value, got {type(args).__name__}")
    arch = args.get("arch")
    if arch not in BASELINES:
        raise ConfigError(f"{where}: model argument 'arch' must be one of {list(BASELINES)}, got {arch!r}")
    BASELINES[arch][1]({k: v for k, v in args.items() if k != "arch"}, where)
