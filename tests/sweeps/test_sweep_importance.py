"""Parameter importance: the parameter that drives the metric ranks first."""

from __future__ import annotations

import numpy as np

from kiseki.sweeps.importance import parameter_importance


def test_the_driving_parameter_ranks_first_and_correlates() -> None:
    rng = np.random.default_rng(3)
    trials = []
    for _ in range(60):
        params = {
            "lr": float(rng.uniform(0, 1)),
            "noise": float(rng.uniform(0, 1)),
            "opt": {"name": str(rng.choice(["adam", "sgd"]))},
        }
        trials.append((params, 3 * params["lr"] + 0.05 * rng.normal()))
    ranked = parameter_importance(trials)
    assert ranked[0]["param"] == "lr"
    assert {r["param"] for r in ranked} == {"lr", "noise", "opt.name"}
    by_name = {r["param"]: r for r in ranked}
    assert by_name["lr"]["correlation"] > 0.95
    assert abs(by_name["noise"]["correlation"]) < 0.4
    assert by_name["lr"]["importance"] > 0.7


def test_too_few_trials_give_nothing() -> None:
    assert parameter_importance([({"x": 1}, 1.0), ({"x": 2}, float("nan"))]) == []
