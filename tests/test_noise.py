"""Tests for deepshrink.noise: exact per-observation SNR, noise statistics, reproducibility.

Every check compares against an independent reference: SNRs are re-measured in float64 NumPy,
spectra with scipy.signal.welch, tail weight with scipy.stats.kurtosis.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.signal import welch

from deepshrink.errors import ConfigError, DatasetError
from deepshrink.noise import NOISE_KINDS, add_noise, measure_snr

TOL_DB = 0.01
CUDA = torch.cuda.is_available()


def ref_snr(clean: torch.Tensor, noisy: torch.Tensor) -> np.ndarray:
    """Independent float64 NumPy SNR per (N, C); trailing dims after C flattened."""
    c = clean.detach().cpu().double().numpy()
    y = noisy.detach().cpu().double().numpy()
    if c.ndim == 1:
        c, y = c[None, None], y[None, None]
    elif c.ndim == 2:
        c, y = c[:, None], y[:, None]
    c = c.reshape(c.shape[0], c.shape[1], -1)
    y = y.reshape(c.shape)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 for an all-zero channel
        return 10 * np.log10(np.mean(c**2, axis=-1) / np.mean((y - c) ** 2, axis=-1))


def signals(n: int = 8, c: int = 3, length: int = 1024, seed: int = 0) -> torch.Tensor:
    """Signals whose power differs by observation and channel (a sine plus a random walk)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    gain = rng.uniform(0.1, 10.0, size=(n, c, 1))
    walk = np.cumsum(rng.standard_normal((n, c, length)), axis=-1)
    x = gain * (np.sin(2 * np.pi * 0.01 * t) + 0.1 * walk)
    return torch.from_numpy(x).float()


def slope_db_per_decade(noise: np.ndarray, f_lo: float = 0.01, f_hi: float = 0.25) -> float:
    """Least-squares slope of the Welch PSD (averaged over rows) in dB per decade."""
    f, p = welch(noise, nperseg=512, axis=-1)
    p = p.reshape(-1, p.shape[-1]).mean(axis=0)
    band = (f >= f_lo) & (f <= f_hi)
    return float(np.polyfit(np.log10(f[band]), 10 * np.log10(p[band]), 1)[0])


# --- exact SNR -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", NOISE_KINDS)
@pytest.mark.parametrize("snr", [-5.0, 0, 5.0, 20.0])
def test_scalar_snr_exact(kind: str, snr: float) -> None:
    x = signals()
    y = add_noise(x, snr, kind, generator=1)
    np.testing.assert_allclose(ref_snr(x, y), snr, atol=TOL_DB)


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_per_sample_snr_exact(kind: str) -> None:
    x = signals(n=6)
    target = torch.tensor([-5.0, -3.0, 0.0, 1.5, 4.0, 10.0])
    y = add_noise(x, target, kind, generator=2)
    np.testing.assert_allclose(ref_snr(x, y), target[:, None].expand(6, 3).numpy(), atol=TOL_DB)
    # NumPy arrays and lists are per-sample values too.
    y_np = add_noise(x, target.numpy(), kind, generator=2)
    y_list = add_noise(x, target.tolist(), kind, generator=2)
    assert torch.equal(y, y_np) and torch.equal(y, y_list)


def test_per_channel_and_full_snr_exact() -> None:
    x = signals(n=4, c=3)
    per_channel = torch.tensor([[-5.0, 0.0, 5.0]])
    y = add_noise(x, per_channel, generator=0)
    np.testing.assert_allclose(ref_snr(x, y), per_channel.expand(4, 3).numpy(), atol=TOL_DB)
    full = torch.linspace(-10, 10, 12).reshape(4, 3)
    y = add_noise(x, full, generator=0)
    np.testing.assert_allclose(ref_snr(x, y), full.numpy(), atol=TOL_DB)


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_range_snr_drawn_and_exact(kind: str) -> None:
    x = signals(n=16)
    y, drawn = add_noise(x, (-5.0, 5.0), kind, generator=3, return_snr=True)
    assert drawn.shape == (16, 3)
    assert bool(((drawn >= -5.0) & (drawn <= 5.0)).all())
    assert torch.equal(drawn, drawn[:, :1].expand(16, 3))  # one SNR per sample
    assert drawn[:, 0].unique().numel() == 16
    np.testing.assert_allclose(ref_snr(x, y), drawn.numpy(), atol=TOL_DB)


def test_range_is_uniform() -> None:
    x = torch.randn(2000, 1, 16)
    _, drawn = add_noise(x, (-5.0, 5.0), generator=4, return_snr=True)
    assert stats.kstest(drawn[:, 0].numpy(), "uniform", args=(-5.0, 10.0)).pvalue > 1e-3
    _, fixed = add_noise(x[:3], (2.0, 2.0), generator=4, return_snr=True)
    assert bool((fixed == 2.0).all())


def test_measure_snr_matches_reference() -> None:
    x = signals()
    y = x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    got = measure_snr(x, y)
    assert got.shape == (8, 3)
    np.testing.assert_allclose(got.numpy(), ref_snr(x, y), atol=1e-4)
    np.testing.assert_allclose(measure_snr(x.numpy(), y.numpy()).numpy(), ref_snr(x, y), atol=1e-4)
    assert measure_snr(x[0, 0], y[0, 0]).shape == (1, 1)
    assert measure_snr(x[:, 0], y[:, 0]).shape == (8, 1)
    with pytest.raises(ConfigError, match="noisy"):
        measure_snr(x, y[:, :2])


@settings(max_examples=30, deadline=None)
@given(
    shape=st.sampled_from([(37,), (3, 50), (2, 4, 65), (2, 2, 6, 9), (1, 3, 2, 3, 4)]),
    kind=st.sampled_from(NOISE_KINDS),
    snr=st.floats(-30.0, 40.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_snr_exact_property(shape: tuple[int, ...], kind: str, snr: float, seed: int) -> None:
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal(shape))
    y = add_noise(x, snr, kind, generator=seed)
    assert y.shape == x.shape and y.dtype == torch.float64
    np.testing.assert_allclose(ref_snr(x, y), snr, atol=TOL_DB)


def test_noise_is_zero_mean_per_channel() -> None:
    x = signals() + 5.0  # a DC offset in the signal is signal power, not removed
    for kind in NOISE_KINDS:
        e = (add_noise(x.double(), 0.0, kind, generator=5) - x.double()).numpy()
        np.testing.assert_allclose(e.mean(axis=-1), 0.0, atol=1e-10)


# --- reproducibility -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_seed_reproducible(kind: str) -> None:
    x = signals(n=4)
    a = add_noise(x, (-5, 5), kind, generator=123)
    assert torch.equal(a, add_noise(x, (-5, 5), kind, generator=123))
    assert torch.equal(a, add_noise(x, (-5, 5), kind, generator=torch.Generator().manual_seed(123)))
    assert not torch.allclose(a, add_noise(x, (-5, 5), kind, generator=124))


def test_generator_state_advances_and_global_rng() -> None:
    x = signals(n=2)
    g = torch.Generator().manual_seed(7)
    assert not torch.equal(add_noise(x, 0.0, generator=g), add_noise(x, 0.0, generator=g))
    with torch.random.fork_rng():  # leave the global RNG as other tests found it
        torch.manual_seed(11)
        a = add_noise(x, 0.0, "pink")
        b = add_noise(x, 0.0, "pink")
        torch.manual_seed(11)
        c = add_noise(x, 0.0, "pink")
    assert torch.equal(a, c)
    assert not torch.equal(a, b)


# --- noise statistics ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("gaussian", 0.0), ("uniform", 0.0), ("laplacian", 0.0), ("pink", -10.0), ("brown", -20.0)],
)
def test_psd_slope(kind: str, expected: float) -> None:
    x = signals(n=64, c=1, length=2048).double()
    e = (add_noise(x, 0.0, kind, generator=6) - x).numpy()
    assert slope_db_per_decade(e) == pytest.approx(expected, abs=1.5)


@pytest.mark.parametrize(("kind", "expected"), [("pink", -10.0), ("brown", -20.0)])
def test_images_coloured_along_last_dim(kind: str, expected: float) -> None:
    x = torch.randn(4, 2, 32, 1024, dtype=torch.float64)
    y = add_noise(x, 3.0, kind, generator=7)
    np.testing.assert_allclose(ref_snr(x, y), 3.0, atol=TOL_DB)
    e = (y - x).numpy()
    assert slope_db_per_decade(e) == pytest.approx(expected, abs=1.5)
    np.testing.assert_allclose(e.mean(axis=-1), 0.0, atol=1e-10)  # each row has no DC


@pytest.mark.parametrize(
    ("kind", "expected", "tol"),
    [("gaussian", 0.0, 0.15), ("laplacian", 3.0, 0.5), ("uniform", -1.2, 0.1)],
)
def test_excess_kurtosis(kind: str, expected: float, tol: float) -> None:
    # Equal-power observations at one SNR share one noise scale, so pooling is fair.
    t = torch.arange(2048, dtype=torch.float64)
    x = torch.sin(2 * torch.pi * 0.01 * t).expand(64, 1, 2048).contiguous()
    e = (add_noise(x, 0.0, kind, generator=8) - x).numpy().ravel()
    assert stats.kurtosis(e) == pytest.approx(expected, abs=tol)


# --- shapes, dtypes, devices, edge cases ---------------------------------------------------


@pytest.mark.parametrize("shape", [(256,), (4, 256), (4, 2, 256), (2, 3, 16, 16)])
@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_shape_dtype_preserved(shape: tuple[int, ...], kind: str) -> None:
    x = torch.randn(shape, dtype=torch.float64)
    y, snr = add_noise(x, 1.0, kind, generator=9, return_snr=True)
    assert y.shape == x.shape and y.dtype == x.dtype and y.device == x.device
    n = 1 if len(shape) == 1 else shape[0]
    c = shape[1] if len(shape) > 2 else 1
    assert snr.shape == (n, c)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_half_precision(dtype: torch.dtype, kind: str) -> None:
    x = signals().to(dtype)
    y = add_noise(x, 0.0, kind, generator=10)
    assert y.dtype == dtype and bool(torch.isfinite(y).all())
    # Exact before the cast; the returned half tensor adds only its own rounding.
    np.testing.assert_allclose(ref_snr(x, y), 0.0, atol=0.1)


def test_gradient_passes_through() -> None:
    x = signals(n=2).requires_grad_()
    add_noise(x, 0.0, generator=0).sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_zero_or_nan_signal_is_refused(kind: str) -> None:
    # No noise level puts an all-zero channel at an SNR, and one NaN would make the whole
    # channel NaN: both are refused, naming the observation and channel.
    with pytest.raises(DatasetError, match=r"observation 0, channel 0 is all zeros"):
        add_noise(torch.zeros(3, 2, 128), (-5, 5), kind, generator=0)
    mixed = signals(n=3, c=2, length=128)
    mixed[1, 0] = 0.0
    with pytest.raises(DatasetError, match=r"observation 1, channel 0 is all zeros \(1 channel"):
        add_noise(mixed, -5.0, kind, generator=0)
    holed = signals(n=3, c=2, length=128)
    holed[2, 1, 17] = float("nan")
    with pytest.raises(DatasetError, match=r"observation 2, channel 1 holds NaN or infinite"):
        add_noise(holed, -5.0, kind, generator=0)


@pytest.mark.parametrize("snr", [1e9, -1e9, (-5.0, 201.0), [0.0, -300.0]])
def test_snr_beyond_200_db_is_refused(snr) -> None:
    with pytest.raises(ConfigError, match=r"outside \[-200, 200\] dB"):
        add_noise(signals(n=2, c=1), snr, generator=0)


def test_empty_batch() -> None:
    x = torch.zeros(0, 2, 64)
    y, snr = add_noise(x, (-1, 1), "pink", generator=0, return_snr=True)
    assert y.shape == x.shape and snr.shape == (0, 2)


@pytest.mark.skipif(not CUDA, reason="needs CUDA")
@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_cuda(kind: str) -> None:
    x = signals().cuda()
    y, snr = add_noise(x, (-5, 5), kind, generator=1, return_snr=True)
    assert y.device == x.device and snr.device == x.device
    np.testing.assert_allclose(ref_snr(x, y), snr.cpu().numpy(), atol=TOL_DB)
    g = torch.Generator(device=x.device).manual_seed(1)
    assert torch.equal(y, add_noise(x, (-5, 5), kind, generator=g))
    y16 = add_noise(x.to(torch.bfloat16), 0.0, kind, generator=1)
    assert y16.dtype == torch.bfloat16 and y16.device == x.device
    with pytest.raises(ConfigError, match="generator"):
        add_noise(x, 0.0, kind, generator=torch.Generator())


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["white", "Gaussian", "", None, 3])
def test_bad_kind(kind: object) -> None:
    with pytest.raises(ConfigError, match=r"^kind:.*gaussian, laplacian, uniform, pink, brown"):
        add_noise(torch.randn(2, 64), 0.0, kind)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "snr",
    [
        float("nan"),
        float("inf"),
        -float("inf"),
        torch.tensor([0.0, float("nan"), 1.0, 2.0]),
        (5.0, -5.0),
        (float("nan"), 1.0),
        (0.0, float("inf")),
        (1.0, 2.0, 3.0),
        ("a", 1.0),
        torch.zeros(3),  # N = 4
        torch.zeros(4, 2),  # C = 3
        torch.zeros(4, 3, 1),
        "5 dB",
        None,
    ],
)
def test_bad_snr(snr: object) -> None:
    with pytest.raises(ConfigError, match=r"^snr_db:"):
        add_noise(torch.randn(4, 3, 64), snr)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("x", "kind"),
    [
        (torch.ones(2, 64, dtype=torch.int64), "gaussian"),
        (np.ones((2, 64)), "gaussian"),
        (torch.tensor(1.0), "gaussian"),
        (torch.ones(4, 1), "gaussian"),  # one sample per observation
        (torch.ones(2, 3, 8, 1), "pink"),  # nothing to colour along the last dim
    ],
)
def test_bad_x(x: object, kind: str) -> None:
    with pytest.raises(ConfigError, match=r"^x:"):
        add_noise(x, 0.0, kind)  # type: ignore[arg-type]


@pytest.mark.parametrize("generator", ["seed", 1.5, True, 2**70])
def test_bad_generator(generator: object) -> None:
    with pytest.raises(ConfigError, match=r"^generator:"):
        add_noise(torch.randn(2, 64), 0.0, generator=generator)  # type: ignore[arg-type]
