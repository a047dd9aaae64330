"""Change a signal's sampling rate: one place for the rule every loader and ``predict`` use.

:func:`resample` is polyphase filtering (:func:`scipy.signal.resample_poly`, a Kaiser-windowed
FIR low-pass at the lower of the two Nyquist frequencies), exact for rational rate ratios such
as 64 kHz → 12.8 kHz (1/5) or 48 kHz → 12 kHz (1/4). It keeps the signal's duration: ``T``
samples at ``from_rate`` become ``ceil(T · to_rate / from_rate)`` samples.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from deepshrink.errors import ConfigError

__all__ = ["rate_ratio", "resample"]


def rate_ratio(from_rate: float, to_rate: float, *, max_denominator: int = 1000) -> tuple[int, int]:
    """``(up, down)`` with ``to_rate / from_rate ≈ up / down`` (exact for rational ratios).

    Raises:
        ConfigError: A rate is not a positive finite number, or the ratio cannot be written
            with ``up, down <= max_denominator`` to within 1e-6 (e.g. 44100 → 12799.7).
    """
    for name, value in (("from_rate", from_rate), ("to_rate", to_rate)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{name}: a sampling rate must be a positive number, got {value!r}")
    ratio = Fraction(float(to_rate) / float(from_rate)).limit_denominator(max_denominator)
    if ratio.numerator > max_denominator or abs(float(ratio) - to_rate / from_rate) > 1e-6 * (to_rate / from_rate):
        raise ConfigError(
            f"cannot resample {from_rate:g} Hz to {to_rate:g} Hz: the ratio is not a fraction "
            f"up/down with both at most {max_denominator}"
        )
    return ratio.numerator, ratio.denominator


def resample(signal: np.ndarray, from_rate: float, to_rate: float, *, axis: int = -1) -> np.ndarray:
    """``signal`` sampled at ``from_rate`` Hz, resampled to ``to_rate`` Hz along ``axis``.

    Returns the input unchanged (not a copy) when the rates are equal; otherwise a float64
    array (float32 input stays float32).
    """
    up, down = rate_ratio(from_rate, to_rate)
    if up == down:
        return signal
    from scipy.signal import resample_poly

    x = np.asarray(signal)
    dtype = np.float32 if x.dtype == np.float32 else np.float64
    return resample_poly(x.astype(np.float64, copy=False), up, down, axis=axis).astype(dtype, copy=False)
