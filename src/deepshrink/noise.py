"""Noise at an exact signal-to-noise ratio, per observation and channel.

Zhao et al. (2020), "Deep residual shrinkage networks for fault diagnosis" (IEEE TII 16(7),
doi 10.1109/TII.2019.2943898), test DRSN on vibration signals with white Gaussian, Laplacian
and pink noise added at −5 … 5 dB. The paper gives neither the SNR formula nor the pink-noise
generator; this module fixes both.

Why per observation (and per channel):
    Observations differ in power (speed, load and fault type all change the vibration
    amplitude) and channels differ in gain (sensors). One global noise level would give every
    observation a different SNR, so a "0 dB" data set would mix easy and hard cases. Here the
    noise of each observation ``n`` and channel ``c`` is scaled on its own, so each one sits at
    its requested SNR.

Formulas (``T`` = the time axis; for inputs with several trailing dims, e.g. images
``(N, C, H, W)``, all dims after ``C`` flattened together)::

    P_signal[n, c] = mean_T(x[n, c] ** 2)          # the signal's mean is *not* removed
    P_noise[n, c]  = mean_T(e[n, c] ** 2)          # e = the noise actually added
    SNR_dB[n, c]   = 10 * log10(P_signal / P_noise)

The raw noise is drawn, made zero-mean along ``T`` (so ``P_noise`` is its variance and the
noise adds no DC offset), then multiplied by ``sqrt(P_signal / P_noise_raw) * 10**(-SNR/20)``,
which hits the requested SNR exactly up to floating-point rounding. A signal's own DC offset
counts as signal power. No SNR exists for an all-zero channel (``P_signal = 0``) or one that
holds NaN or infinite values: :func:`add_noise` refuses them (a
:class:`~deepshrink.errors.DatasetError` naming the observation and channel) rather than return
a signal that is not at the SNR asked for. SNRs beyond +-:data:`SNR_LIMIT_DB` dB are refused
as typos.

Noise models (:data:`NOISE_KINDS`), before zero-meaning and scaling:
    * ``gaussian``: white, standard normal (excess kurtosis 0).
    * ``laplacian``: white, Laplace(0, 1) drawn as the difference of two Exp(1) variables;
      heavy tailed (excess kurtosis 3), the paper's impulsive-noise case.
    * ``uniform``: white, U(−½, ½) (excess kurtosis −1.2). The original DRSN demo
      (``DRSN_Keras.py``) adds ``0.5 * U[0, 1)`` to MNIST at a fixed amplitude; here the same
      distribution is zero-meaned and scaled to the requested SNR instead.
    * ``pink``: power spectral density ∝ 1/f (−10 dB/decade).
    * ``brown``: power spectral density ∝ 1/f² (−20 dB/decade).

Coloured noise is white Gaussian noise shaped in the frequency domain: ``rfft`` along the
last dim, amplitude multiplied by ``f ** (-alpha / 2)`` (``alpha`` = 1 pink, 2 brown), the DC
bin set to 0, ``irfft`` back to exactly the signal's length (no tiling or truncation of a
longer sequence). The result is periodic over the window (a circular, not an integrated,
random walk for ``brown``). For inputs with more than one trailing dim (images) the noise is
coloured along the **last dim only** (each image row is a pink/brown sequence, rows are
independent).

Randomness: pass an ``int`` seed or a :class:`torch.Generator` on ``x``'s device; ``None``
uses torch's global RNG. The same seed, device, shape and dtype give the same noise (CPU and
CUDA streams differ). When ``snr_db`` is a ``(low, high)`` range, the per-sample SNRs are
drawn first, then the noise, from the same generator.

Precision: noise is computed in ``float32`` (``float64`` for ``float64`` inputs) and the noisy
signal is cast back to ``x``'s dtype; the SNR is exact before that cast, so ``float16`` /
``bfloat16`` outputs carry their own rounding on top.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Union

import numpy as np
import torch

from deepshrink.errors import ConfigError, DatasetError

__all__ = ["NOISE_KINDS", "SNR_LIMIT_DB", "add_noise", "measure_snr"]

SNR_LIMIT_DB = 200.0
"""Largest |SNR| in dB accepted anywhere (configs, CLI, :func:`add_noise`): beyond it the noise
is below float64 rounding (or swamps the signal by 10^20 in power), so such a value is a typo."""

NOISE_KINDS: tuple[str, ...] = ("gaussian", "laplacian", "uniform", "pink", "brown")
"""Names accepted by :func:`add_noise` ``kind``."""

_COLOUR_EXPONENT = {"pink": 1.0, "brown": 2.0}
_REAL_INTS = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)

SNRSpec = Union[float, Sequence[float], np.ndarray, torch.Tensor, tuple[float, float]]
GeneratorSpec = Union[torch.Generator, int, None]


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Float32 for half types and float32, float64 for float64."""
    return torch.promote_types(dtype, torch.float32)


def _observations(t: torch.Tensor, name: str) -> torch.Tensor:
    """View ``t`` as ``(N, C, T)``: ``(L,)`` → ``(1, 1, L)``, ``(N, L)`` → ``(N, 1, L)``."""
    if t.ndim == 0:
        raise ConfigError(f"{name}: expected shape (L,), (N, L) or (N, C, ...), got a scalar")
    if t.ndim == 1:
        return t.reshape(1, 1, -1)
    if t.ndim == 2:
        return t.unsqueeze(1)
    return t.flatten(2)


def _resolve_generator(generator: GeneratorSpec, device: torch.device) -> torch.Generator | None:
    if generator is None:
        return None
    if isinstance(generator, torch.Generator):
        g_dev = torch.device(generator.device)
        if g_dev.type != device.type or (
            g_dev.index is not None and device.index is not None and g_dev.index != device.index
        ):
            raise ConfigError(
                f"generator: is on device {g_dev}, but x is on {device}; "
                "create it with torch.Generator(device=x.device) or pass an int seed"
            )
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        g = torch.Generator(device=device)
        try:
            g.manual_seed(int(generator))
        except (RuntimeError, ValueError, OverflowError) as err:
            raise ConfigError(f"generator: invalid seed {generator!r} ({err})") from None
        return g
    raise ConfigError(
        f"generator: expected a torch.Generator, an int seed or None, "
        f"got {type(generator).__name__}"
    )


def _resolve_snr(
    snr_db: SNRSpec,
    n: int,
    c: int,
    generator: torch.Generator | None,
    device: torch.device,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Turn the ``snr_db`` argument into an ``(N, C)`` tensor (drawing a range if given)."""
    if isinstance(snr_db, tuple):
        if len(snr_db) != 2:
            raise ConfigError(
                f"snr_db: a tuple means a (low, high) range and needs 2 values, got {len(snr_db)}"
            )
        try:
            low, high = (float(v) for v in snr_db)
        except (TypeError, ValueError):
            raise ConfigError(f"snr_db: range {snr_db!r} must hold two real numbers") from None
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ConfigError(f"snr_db: range {snr_db!r} must be finite")
        if low > high:
            raise ConfigError(f"snr_db: range low={low} is greater than high={high}")
        _check_snr_limit(max(abs(low), abs(high)))
        u = torch.rand(n, 1, generator=generator, device=device, dtype=dtype)
        return (low + (high - low) * u).expand(n, c).contiguous()

    try:
        snr = torch.as_tensor(snr_db, dtype=dtype, device=device)
    except (TypeError, ValueError, RuntimeError):
        raise ConfigError(
            f"snr_db: expected a number, a (low, high) tuple or an array of shape (N,) or "
            f"(N, C), got {type(snr_db).__name__}"
        ) from None
    given_shape = tuple(snr.shape)
    if snr.ndim == 1:
        snr = snr.unsqueeze(-1)  # per sample: (N,) -> (N, 1)
    if snr.ndim > 2:
        raise ConfigError(f"snr_db: expected shape (N,) or (N, C), got {given_shape}")
    try:
        snr = torch.broadcast_to(snr, (n, c))
    except RuntimeError:
        raise ConfigError(
            f"snr_db: shape {given_shape} does not broadcast to (N, C) = "
            f"({n}, {c}); use (N,) per sample or (1, C) per channel"
        ) from None
    if not bool(torch.isfinite(snr).all()):
        raise ConfigError("snr_db: contains NaN or infinite values")
    if snr.numel():
        _check_snr_limit(float(snr.abs().max()))
    return snr.contiguous()


def _check_snr_limit(largest: float) -> None:
    if largest > SNR_LIMIT_DB:
        raise ConfigError(
            f"snr_db: {largest:g} dB is outside [-{SNR_LIMIT_DB:g}, {SNR_LIMIT_DB:g}] dB (a typo?)"
        )


def _check_signal_power(obs: torch.Tensor, p_signal: torch.Tensor) -> None:
    """Refuse channels with no defined SNR: non-finite values, all zeros, power 0 or inf."""
    bad = ~torch.isfinite(obs).all(dim=-1)
    if bool(bad.any()):
        n, c = (int(i) for i in bad.nonzero()[0])
        raise DatasetError(
            f"x: observation {n}, channel {c} holds NaN or infinite values ({int(bad.sum())} channel(s) "
            "in all); no SNR can be met: clean or drop them first"
        )
    bad = ~(torch.isfinite(p_signal) & (p_signal > 0))
    if bool(bad.any()):
        n, c = (int(i) for i in bad.nonzero()[0])
        what = "is all zeros" if not bool(obs[n, c].any()) else "has a power float32 cannot hold"
        raise DatasetError(
            f"x: observation {n}, channel {c} {what} ({int(bad.sum())} channel(s) in all): no noise "
            "level gives it an SNR; drop such observations or channels first"
        )


def _raw_noise(
    kind: str,
    shape: torch.Size,
    generator: torch.Generator | None,
    device: torch.device,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Unscaled noise of ``shape`` (coloured along the last dim)."""
    if kind == "gaussian":
        return torch.randn(shape, generator=generator, device=device, dtype=dtype)
    if kind == "laplacian":
        e1 = torch.empty(shape, device=device, dtype=dtype).exponential_(generator=generator)
        e2 = torch.empty(shape, device=device, dtype=dtype).exponential_(generator=generator)
        return e1 - e2
    if kind == "uniform":
        return torch.rand(shape, generator=generator, device=device, dtype=dtype) - 0.5
    alpha = _COLOUR_EXPONENT[kind]
    length = shape[-1]
    white = torch.randn(shape, generator=generator, device=device, dtype=dtype)
    if white.numel() == 0:  # FFT backends reject empty batches
        return white
    freqs = torch.fft.rfftfreq(length, device=device, dtype=dtype)
    gain = torch.zeros_like(freqs)
    gain[1:] = freqs[1:].pow(-alpha / 2.0)  # DC bin stays 0
    return torch.fft.irfft(torch.fft.rfft(white, dim=-1) * gain, n=length, dim=-1)


def add_noise(
    x: torch.Tensor,
    snr_db: SNRSpec,
    kind: str = "gaussian",
    generator: GeneratorSpec = None,
    *,
    return_snr: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Add noise to ``x`` so each observation and channel sits exactly at ``snr_db``.

    See the module docstring for the formulas and noise models. The noise does not depend
    on ``x`` through autograd: gradients flow through ``x`` unchanged.

    Args:
        x: Floating-point signal of shape ``(N, C, L)``, ``(N, L)``, ``(L,)`` or
            ``(N, C, *spatial)``; the dims after ``C`` form the time axis for the power.
        snr_db: Target SNR in dB. A number (all observations); an array or tensor of shape
            ``(N,)`` (one per sample) or broadcastable to ``(N, C)`` (e.g. ``(1, C)`` per
            channel); or a ``tuple`` ``(low, high)``: one SNR per sample drawn uniformly from
            ``[low, high]`` with ``generator`` (the same for all channels of a sample). Only a
            ``tuple`` means a range; a list is a per-sample array.
        kind: One of :data:`NOISE_KINDS`.
        generator: A :class:`torch.Generator` on ``x``'s device, an ``int`` seed, or ``None``
            for torch's global RNG.
        return_snr: Also return the ``(N, C)`` SNRs used (useful with a range).

    Returns:
        The noisy signal, same shape, dtype and device as ``x``; with ``return_snr``, the tuple
        ``(noisy, snr)`` where ``snr`` has shape ``(N, C)`` (``(1, 1)`` for ``(L,)`` input,
        ``(N, 1)`` for ``(N, L)``).

    Raises:
        ConfigError: ``kind`` is unknown; ``snr_db`` is NaN/infinite, beyond +-200 dB, a range
            with ``low > high`` or of a shape that does not broadcast; ``x`` is not a
            floating-point tensor or is too short; ``generator`` is of the wrong type or device.
        DatasetError: an observation's channel is all zeros or holds NaN / infinite values
            (no SNR exists for it).
    """
    if not isinstance(kind, str) or kind not in NOISE_KINDS:
        raise ConfigError(
            f"kind: unknown noise kind {kind!r}; valid kinds are {', '.join(NOISE_KINDS)}"
        )
    if not isinstance(x, torch.Tensor):
        raise ConfigError(f"x: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ConfigError(f"x: expected a floating-point tensor, got dtype {x.dtype}")

    device = x.device
    dtype = _compute_dtype(x.dtype)
    signal = x.detach().to(dtype)
    obs = _observations(signal, "x")  # (N, C, T)
    n, c, t = obs.shape
    if t < 2:
        raise ConfigError(f"x: needs at least 2 samples along the time axis, got {t}")
    if kind in _COLOUR_EXPONENT and x.shape[-1] < 2:
        raise ConfigError(f"x: {kind} noise needs a last dim of at least 2, got {x.shape[-1]}")

    p_signal = obs.pow(2).mean(dim=-1)
    _check_signal_power(obs, p_signal)
    gen = _resolve_generator(generator, device)
    snr = _resolve_snr(snr_db, n, c, gen, device, dtype)

    # Draw in x's own layout (so coloured noise follows its last dim), then view as (N, C, T).
    noise = _observations(_raw_noise(kind, signal.shape, gen, device, dtype), "x")
    noise = noise - noise.mean(dim=-1, keepdim=True)
    p_noise = noise.pow(2).mean(dim=-1)
    tiny = torch.finfo(dtype).tiny
    ratio = torch.where(p_noise > 0, p_signal / p_noise.clamp_min(tiny), torch.zeros_like(p_noise))
    scale = ratio.sqrt() * torch.pow(10.0, -snr / 20.0)
    noise = (noise * scale.unsqueeze(-1)).reshape(x.shape)

    noisy = (x.to(dtype) + noise).to(x.dtype)
    if return_snr:
        return noisy, snr
    return noisy


def measure_snr(
    clean: torch.Tensor | np.ndarray, noisy: torch.Tensor | np.ndarray
) -> torch.Tensor:
    """SNR in dB of ``noisy`` against ``clean``, per observation and channel.

    ``10 * log10(mean_T(clean**2) / mean_T((noisy - clean)**2))`` with the same time axis
    convention as :func:`add_noise`. A zero-noise channel gives ``+inf``, a zero signal with
    noise ``-inf``, and zero signal with zero noise ``nan``.

    Args:
        clean: Clean signal, shape ``(N, C, L)``, ``(N, L)``, ``(L,)`` or ``(N, C, *spatial)``.
        noisy: Noisy signal of the same shape.

    Returns:
        A tensor of shape ``(N, C)`` (``(1, 1)`` for ``(L,)``, ``(N, 1)`` for ``(N, L)``) in
        float32, or float64 if either input is float64.

    Raises:
        ConfigError: The shapes differ.
    """
    try:
        clean_t = torch.as_tensor(clean)
        noisy_t = torch.as_tensor(noisy, device=clean_t.device)
    except (TypeError, ValueError, RuntimeError):
        raise ConfigError(
            f"clean, noisy: expected numeric arrays or tensors, got {type(clean).__name__} and {type(noisy).__name__}"
        ) from None
    if not all(t.is_floating_point() or t.dtype in _REAL_INTS for t in (clean_t, noisy_t)):
        raise ConfigError(f"clean, noisy: expected real numbers, got dtypes {clean_t.dtype} and {noisy_t.dtype}")
    if clean_t.shape != noisy_t.shape:
        raise ConfigError(
            f"noisy: shape {tuple(noisy_t.shape)} differs from clean's {tuple(clean_t.shape)}"
        )
    dtype = torch.promote_types(
        _compute_dtype(clean_t.dtype) if clean_t.is_floating_point() else torch.float32,
        _compute_dtype(noisy_t.dtype) if noisy_t.is_floating_point() else torch.float32,
    )
    s = _observations(clean_t.to(dtype), "clean")
    e = _observations(noisy_t.to(dtype), "noisy") - s
    return 10.0 * torch.log10(s.pow(2).mean(dim=-1) / e.pow(2).mean(dim=-1))
