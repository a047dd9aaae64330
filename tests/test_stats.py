"""The report's interval of a mean against scipy's Student-t interval."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from deepshrink.study.stats import ci95


@pytest.mark.parametrize("n", range(2, 201))
def test_ci95_is_scipy_students_t_interval(n):
    values = np.random.default_rng(n).normal(0.7, 0.05, size=n)
    expected = scipy.stats.t.interval(0.95, df=n - 1, loc=values.mean(), scale=scipy.stats.sem(values))
    assert ci95(values) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_ci95_needs_two_values_and_skips_missing_ones():
    assert all(math.isnan(x) for x in ci95([0.5]))
    assert ci95([0.5, None, float("nan"), 0.7]) == pytest.approx(ci95([0.5, 0.7]))
