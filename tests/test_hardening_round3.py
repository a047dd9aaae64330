"""Hardening round 3, the smaller ones: each a clear one-line error (reproduced first, then fixed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import deepshrink
from deepshrink.errors import ConfigError, DatasetError, ShapeError
from deepshrink.noise import add_noise
from deepshrink.train.engine import check_batch_size


def test_add_noise_on_an_empty_batch_is_an_error():
    with pytest.raises(ConfigError, match=r"x: an empty tensor of shape \(0, 1, 64\)"):
        add_noise(torch.zeros(0, 1, 64), snr_db=0, kind="gaussian", generator=0)


@pytest.mark.parametrize("name, shape, needs", [
    ("drsn_cw_paper6", (2, 1, 3), 16),       # stem stride 2, three stages of stride 2
    ("resnet_paper6", (2, 1, 15), 16),
    ("drsn_cw20_2d", (2, 3, 8, 3), 4),      # 2-D: each spatial axis
])  # fmt: skip
def test_a_model_refuses_an_input_shorter_than_it_downsamples(name, shape, needs):
    model = deepshrink.create_model(name, in_channels=shape[1], num_classes=3).eval()
    assert model.total_stride == needs
    with pytest.raises(ShapeError, match=rf"shorter than the network downsamples \({needs}x.*at least {needs} samples"):
        model(torch.randn(*shape))
    ok = list(shape)
    ok[2:] = [needs] * (len(shape) - 2)
    assert model(torch.randn(*ok)).shape == (2, 3)  # exactly the stride is enough


def test_batches_of_one_are_refused_with_the_reason():
    with pytest.raises(ConfigError, match=r"batch_size 1 gives 1 observation per process.*BatchNorm.*at least 2"):
        check_batch_size(1, 100, 1)
    with pytest.raises(ConfigError, match=r"batch_size 2 gives 1 observation per process"):
        check_batch_size(2, 100, 2)  # under DDP the per-process batch counts
    assert check_batch_size(2, 100, 1) == 50


def test_sklearn_estimator_nan_input_is_one_line():
    from deepshrink.sklearn import DRSNClassifier

    X = np.random.default_rng(0).standard_normal((20, 1, 64)).astype(np.float32)
    X[0, 0, 0] = np.nan
    with pytest.raises(DatasetError, match="NaN") as err:
        DRSNClassifier(model="resnet_paper6", epochs=1, batch_size=4).fit(X, np.arange(20) % 2)
    assert isinstance(err.value, ValueError) and "\n" not in str(err.value)
