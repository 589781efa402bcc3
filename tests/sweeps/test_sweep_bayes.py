"""bayes (Optuna TPE, rebuilt from finished trials each time) beats random search.

The objective runs in-process, not as kiseki runs, but through the same suggestion functions
the store calls (:func:`bayes_suggestion` fed with :class:`FinishedTrial` records).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from kiseki.sweeps.config import SweepConfig, parse_sweep_config
from kiseki.sweeps.search import FinishedTrial, bayes_suggestion, random_suggestion

BUDGET = 30
SEEDS = range(20)


def branin(params: dict[str, Any], rng: np.random.Generator) -> float:
    x, y = params["x"], params["y"]
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    return (y - b * x**2 + c * x - r) ** 2 + s * (1 - t) * math.cos(x) + s


def noisy_quadratic(params: dict[str, Any], rng: np.random.Generator) -> float:
    centre = np.array([0.3, -0.2, 0.1, 0.4, -0.3])
    x = np.array([params[f"x{i}"] for i in range(5)])
    return float(np.sum((x - centre) ** 2) + rng.normal(0.0, 0.01))


BRANIN = {
    "method": "bayes",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"x": {"min": -5.0, "max": 10.0}, "y": {"min": 0.0, "max": 15.0}},
}
QUADRATIC = {
    "method": "bayes",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {f"x{i}": {"min": -1.0, "max": 1.0} for i in range(5)},
}


def best_of(
    config: SweepConfig,
    objective: Callable[[dict[str, Any], np.random.Generator], float],
    seed: int,
    method: str,
) -> float:
    rng = np.random.default_rng(seed)
    noise = np.random.default_rng(10_000 + seed)
    finished: list[FinishedTrial] = []
    best = math.inf
    for number in range(BUDGET):
        if method == "bayes":
            suggestion = bayes_suggestion(config, finished, seed=seed * 1000 + number)
        else:
            suggestion = random_suggestion(config, rng)
        value = objective(suggestion.params, noise)
        finished.append(FinishedTrial(suggestion.internal, value))
        best = min(best, value)
    return best


@pytest.mark.parametrize(
    ("spec", "objective"), [(BRANIN, branin), (QUADRATIC, noisy_quadratic)], ids=["branin", "quad5"]
)
def test_bayes_beats_random_on_median_best_of_30(
    spec: dict[str, Any], objective: Callable[[dict[str, Any], np.random.Generator], float]
) -> None:
    config = parse_sweep_config(spec)
    bayes = [best_of(config, objective, seed, "bayes") for seed in SEEDS]
    random = [best_of(config, objective, seed, "random") for seed in SEEDS]
    assert statistics.median(bayes) < statistics.median(random), (
        statistics.median(bayes),
        statistics.median(random),
    )
