"""Random search samples each declared distribution (Kolmogorov-Smirnov and chi-square tests
with fixed seeds)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

from kiseki.sweeps.config import parse_sweep_config
from kiseki.sweeps.search import random_suggestion

N = 4000
ALPHA = 0.001


def draw(spec: dict[str, Any], seed: int = 7, n: int = N) -> np.ndarray:
    config = parse_sweep_config({"method": "random", "parameters": {"p": spec}})
    rng = np.random.default_rng(seed)
    return np.array([random_suggestion(config, rng).params["p"] for _ in range(n)])


CONTINUOUS = [
    ({"distribution": "uniform", "min": -2.0, "max": 3.0}, stats.uniform(-2.0, 5.0)),
    ({"min": 0.5, "max": 1.5}, stats.uniform(0.5, 1.0)),
    (
        {"distribution": "log_uniform", "min": -4.0, "max": 1.0},
        stats.loguniform(math.e**-4, math.e),
    ),
    (
        {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
        stats.loguniform(1e-5, 1e-1),
    ),
    (
        {"distribution": "inv_log_uniform", "min": 1.0, "max": 3.0},
        stats.loguniform(math.e**-3, math.e**-1),
    ),
    (
        {"distribution": "inv_log_uniform_values", "min": 0.01, "max": 10.0},
        stats.loguniform(0.01, 10.0),
    ),
    ({"distribution": "normal", "mu": 2.0, "sigma": 0.5}, stats.norm(2.0, 0.5)),
    ({"distribution": "normal"}, stats.norm(0.0, 1.0)),
    (
        {"distribution": "log_normal", "mu": 0.5, "sigma": 0.8},
        stats.lognorm(0.8, scale=math.e**0.5),
    ),
    ({"distribution": "beta", "a": 2.0, "b": 5.0}, stats.beta(2.0, 5.0)),
]


@pytest.mark.parametrize(("spec", "expected"), CONTINUOUS, ids=lambda v: str(v)[:40])
def test_continuous_distributions_match_kolmogorov_smirnov(
    spec: dict[str, Any], expected: Any
) -> None:
    samples = draw(spec)
    result = stats.kstest(samples, expected.cdf)
    assert result.pvalue > ALPHA, result
    # and the test can fail: the same samples are not from a shifted distribution
    shifted = stats.kstest(samples + 0.25 * np.std(samples), expected.cdf)
    assert shifted.pvalue < ALPHA


QUANTISED = [
    ({"distribution": "q_uniform", "min": 0.0, "max": 10.0, "q": 2}, stats.uniform(0.0, 10.0), 2.0),
    (
        {"distribution": "q_log_uniform", "min": 0.0, "max": 4.0, "q": 1},
        stats.loguniform(1, math.e**4),
        1.0,
    ),
    (
        {"distribution": "q_log_uniform_values", "min": 1.0, "max": 1000.0, "q": 5},
        stats.loguniform(1.0, 1000.0),
        5.0,
    ),
    ({"distribution": "q_normal", "mu": 0.0, "sigma": 3.0, "q": 0.5}, stats.norm(0.0, 3.0), 0.5),
    (
        {"distribution": "q_log_normal", "mu": 1.0, "sigma": 0.5, "q": 1},
        stats.lognorm(0.5, scale=math.e),
        1.0,
    ),
    ({"distribution": "q_beta", "a": 2.0, "b": 2.0, "q": 0.1}, stats.beta(2.0, 2.0), 0.1),
]


@pytest.mark.parametrize(("spec", "expected", "q"), QUANTISED, ids=lambda v: str(v)[:40])
def test_quantised_distributions_round_the_continuous_one(
    spec: dict[str, Any], expected: Any, q: float
) -> None:
    samples = draw(spec)
    steps = samples / q
    assert np.allclose(steps, np.round(steps), atol=1e-6)  # multiples of q
    # each multiple k*q has the probability mass of [k*q - q/2, k*q + q/2)
    values, counts = np.unique(np.round(steps).astype(int), return_counts=True)
    mass = expected.cdf((values + 0.5) * q) - expected.cdf((values - 0.5) * q)
    frequent = mass * N >= 20
    observed, predicted = counts[frequent], mass[frequent] * N
    predicted = predicted * observed.sum() / predicted.sum()
    assert stats.chisquare(observed, predicted).pvalue > ALPHA


def test_categorical_probabilities_and_int_uniform() -> None:
    weighted = draw({"values": ["a", "b", "c"], "probabilities": [0.2, 0.5, 0.3]})
    counts = [int(np.sum(weighted == v)) for v in ("a", "b", "c")]
    assert stats.chisquare(counts, [0.2 * N, 0.5 * N, 0.3 * N]).pvalue > ALPHA
    uniform = draw({"values": [1, 2, 3, 4]})
    assert stats.chisquare(np.bincount(uniform.astype(int))[1:]).pvalue > ALPHA
    integers = draw({"min": 3, "max": 9})
    assert set(integers.tolist()) == set(range(3, 10))
    assert stats.chisquare(np.bincount(integers.astype(int))[3:]).pvalue > ALPHA
    assert set(draw({"value": 42}, n=50).tolist()) == {42}
