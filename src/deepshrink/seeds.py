"""Every seed deepshrink derives from another: one named purpose per random draw.

A run has one seed (``TrainConfig.seed``). Each random thing it does (split, noise, order, ...)
draws from a seed derived from it for that purpose, so one draw never moves another, and
``evaluate``, ``thresholds`` and a study rebuild exactly the data a run saw. This table is the
only place those rules live; import :func:`derive_seed` and a :class:`Purpose`, never re-derive.

=================  ============================================  ==================================================
purpose            derived seed                                  what it draws
=================  ============================================  ==================================================
INIT               ``seed``                                      the model's initial weights (``seed_everything``)
TEST_SPLIT         ``seed``                                      the test recordings (``split: recording``), or
                                                                 windows (``split: window``)
VAL_SPLIT          ``mix(seed, 1)``                              the validation recordings among the training ones
TRAIN_NOISE        ``mix(seed, 11)``                             training noise, and which observation gets which
                                                                 SNR of a discrete set
VAL_NOISE          ``mix(seed, 12)``                             validation noise (the same way)
TEST_NOISE         ``mix(seed, 13)``                             test noise (the same way)
ALL_NOISE          ``mix(seed, 14)``                             the noise of ``evaluate --part all``
NOISE_EPOCH        ``SeedSequence([seed, epoch])``, 63 bits      a noisy set's noise in ``epoch`` (0: the fixed
                                                                 noise); ``seed`` is the set's, one of the above
SHUFFLE            ``(seed·1000003 + epoch·7919 + 12345)``       the order of the training set in ``epoch``, the
                   ``mod (2^63 - 1)``                            same on every process
EPOCH_RNG          ``SeedSequence([seed, epoch, rank, 0xD5])``   the global RNGs (dropout) in ``epoch`` on process
                                                                 ``rank``
FOLD_SPLIT         ``seed``                                      a study's assignment of recordings to folds
FOLD               ``seed·1000 + fold``                          the run seed of fold ``fold`` (a study's seed in,
                                                                 a run's seed out: the rows above apply to it)
THRESHOLD_SIGNALS  ``seed``                                      a threshold analysis's choice of signals
THRESHOLD_NOISE    ``seed·1000 + level + 1``                     its noise at input ``level`` (level 0 is the
                                                                 clean input when it is recorded)
ESTIMATOR_SPLIT    ``seed mod 2^32``                             ``DRSNClassifier``'s validation split
=================  ============================================  ==================================================

``mix(seed, n)`` is ``SeedSequence([seed, n, 0x5EED]).generate_state(1)[0]``: 32 well-mixed
bits, so nearby seeds and purposes do not overlap. The formulas are those every existing run
and study was made with; changing one changes their test sets, so add a purpose, never edit one.
"""

from __future__ import annotations

import enum
import numbers
import random
from collections.abc import Callable

import numpy as np
import torch

__all__ = ["PART_NOISE", "Purpose", "derive_seed", "seed_everything"]


class Purpose(str, enum.Enum):
    """What a derived seed draws (see the module's table)."""

    INIT = "init"
    TEST_SPLIT = "test_split"
    VAL_SPLIT = "val_split"
    TRAIN_NOISE = "train_noise"
    VAL_NOISE = "val_noise"
    TEST_NOISE = "test_noise"
    ALL_NOISE = "all_noise"
    NOISE_EPOCH = "noise_epoch"
    SHUFFLE = "shuffle"
    EPOCH_RNG = "epoch_rng"
    FOLD_SPLIT = "fold_split"
    FOLD = "fold"
    THRESHOLD_SIGNALS = "threshold_signals"
    THRESHOLD_NOISE = "threshold_noise"
    ESTIMATOR_SPLIT = "estimator_split"


PART_NOISE: dict[str, Purpose] = {
    "train": Purpose.TRAIN_NOISE,
    "val": Purpose.VAL_NOISE,
    "test": Purpose.TEST_NOISE,
    "all": Purpose.ALL_NOISE,
}
"""The noise purpose of each part of a run's data, so ``evaluate --part`` redraws a run's own noise."""


def _mix(number: int) -> Callable[[int], int]:
    def rule(seed: int) -> int:
        return int(np.random.SeedSequence([seed, number, 0x5EED]).generate_state(1)[0])

    return rule


def _same(seed: int) -> int:
    return seed


def _noise_epoch(seed: int, epoch: int) -> int:
    state = np.random.SeedSequence([seed, epoch]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31) ^ int(state[1])


def _shuffle(seed: int, epoch: int) -> int:
    return (seed * 1_000_003 + epoch * 7919 + 12345) % (2**63 - 1)


def _epoch_rng(seed: int, epoch: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, rank, 0xD5]).generate_state(1)[0])


_RULES: dict[Purpose, Callable[..., int]] = {
    Purpose.INIT: _same,
    Purpose.TEST_SPLIT: _same,
    Purpose.VAL_SPLIT: _mix(1),
    Purpose.TRAIN_NOISE: _mix(11),
    Purpose.VAL_NOISE: _mix(12),
    Purpose.TEST_NOISE: _mix(13),
    Purpose.ALL_NOISE: _mix(14),
    Purpose.NOISE_EPOCH: _noise_epoch,
    Purpose.SHUFFLE: _shuffle,
    Purpose.EPOCH_RNG: _epoch_rng,
    Purpose.FOLD_SPLIT: _same,
    Purpose.FOLD: lambda seed, fold: seed * 1000 + fold,
    Purpose.THRESHOLD_SIGNALS: _same,
    Purpose.THRESHOLD_NOISE: lambda seed, level: seed * 1000 + level + 1,
    Purpose.ESTIMATOR_SPLIT: lambda seed: seed % (2**32),
}


def derive_seed(seed: int, purpose: Purpose | str, *keys: int) -> int:
    """The seed that draws ``purpose`` for ``seed`` (and ``keys``: epoch, rank, fold, level).

    Args:
        seed: the run's (or set's, or analysis's) seed, an integer.
        purpose: a :class:`Purpose` or its value (``"train_noise"``).
        keys: the other integers of the purpose's formula in the module's table (``epoch``,
            ``rank``, ``fold``, ``level``), in that order.

    Raises:
        ValueError: an unknown purpose; TypeError: a seed or key that is not an integer, or
            the wrong number of keys.
    """
    purpose = Purpose(purpose)
    rule = _RULES[purpose]
    wanted = rule.__code__.co_argcount - 1
    if len(keys) != wanted:
        raise TypeError(f"derive_seed({purpose.name}) takes {wanted} key(s) after the seed, got {len(keys)}")
    values = []
    for value in (seed, *keys):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"derive_seed({purpose.name}): seeds and keys must be integers, got {value!r}")
        values.append(int(value))
    return int(rule(*values))


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy's global RNG and ``random`` (a run's INIT and EPOCH_RNG draws)."""
    seed = int(seed) % (2**32)
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
