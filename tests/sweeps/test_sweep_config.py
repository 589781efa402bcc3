"""Sweep configurations: W&B's format, validated with errors naming the bad key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kiseki.errors import ConfigError
from kiseki.sweeps.config import DEFAULT_COMMAND, parse_sweep_config
from kiseki.sweeps.distributions import Categorical, Constant, Continuous, IntUniform
from kiseki.sweeps.search import grid_suggestion

BASE: dict[str, Any] = {"method": "random", "parameters": {"lr": {"min": 0.0, "max": 1.0}}}


def test_a_wandb_yaml_file_parses(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        "program: train.py\n"
        "name: lr search\n"
        "method: bayes\n"
        "metric:\n  name: val/loss\n  goal: minimize\n  target: 0.05\n"
        "parameters:\n"
        "  lr:\n    distribution: log_uniform_values\n    min: 0.00001\n    max: 0.1\n"
        "  batch:\n    values: [32, 64, 128]\n"
        "  layers:\n    min: 1\n    max: 4\n"
        "  seed:\n    value: 7\n"
        "  optimizer:\n    parameters:\n      momentum:\n        distribution: q_uniform\n"
        "        min: 0.5\n        max: 0.99\n        q: 0.01\n"
        "early_terminate:\n  type: hyperband\n  min_iter: 3\n  eta: 2\n"
        "run_cap: 20\n"
    )
    config = parse_sweep_config(path)
    assert config.method == "bayes" and config.program == "train.py" and config.run_cap == 20
    assert config.metric is not None and config.metric.target == 0.05
    assert config.command == DEFAULT_COMMAND
    assert config.parameters[("lr",)] == Continuous("log_uniform_values", 1e-5, 0.1)
    assert config.parameters[("batch",)] == Categorical((32, 64, 128))
    assert config.parameters[("layers",)] == IntUniform(1, 4)
    assert config.parameters[("seed",)] == Constant(7)
    assert config.parameters[("optimizer", "momentum")] == Continuous("uniform", 0.5, 0.99, 0.01)
    assert config.early_terminate is not None and config.early_terminate.bands == (3, 6, 12)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"methd": "grid"}, "'methd'"),
        ({"method": "annealing"}, "method"),
        ({"parameters": {}}, "parameters"),
        ({"parameters": {"lr": {"distribution": "gaussian"}}}, "parameters.lr.distribution"),
        ({"parameters": {"lr": {"min": 1.0, "max": 0.5}}}, "parameters.lr.min"),
        ({"parameters": {"lr": {"valuez": [1]}}}, "parameters.lr.valuez"),
        ({"parameters": {"lr": {"values": []}}}, "parameters.lr.values"),
        ({"parameters": {"lr": {"values": [1, 2], "probabilities": [0.5]}}}, "probabilities"),
        ({"parameters": {"lr": {"distribution": "normal", "sigma": -1}}}, "parameters.lr.sigma"),
        (
            {"parameters": {"lr": {"distribution": "log_uniform_values", "min": 0, "max": 1}}},
            "parameters.lr.min",
        ),
        ({"parameters": {"o": {"parameters": {"m": {"min": "a", "max": 1}}}}}, "parameters.o.m"),
        ({"metric": {"name": "loss", "goal": "lower"}}, "metric.goal"),
        ({"metric": {"goal": "minimize"}}, "metric.name"),
        ({"run_cap": 0}, "run_cap"),
        ({"command": "python train.py"}, "command"),
        ({"early_terminate": {"type": "median"}, "metric": {"name": "x"}}, "early_terminate.type"),
        (
            {"early_terminate": {"type": "hyperband", "max_iter": 27}, "metric": {"name": "x"}},
            "`s`",
        ),
        ({"early_terminate": {"type": "hyperband", "min_iter": 3}}, "metric"),
    ],
)
def test_bad_configs_name_the_bad_key(change: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_sweep_config({**BASE, **change})
    assert named in str(error.value)


def test_bayes_needs_a_metric_and_grid_refuses_continuous_parameters() -> None:
    with pytest.raises(ConfigError, match="metric"):
        parse_sweep_config({**BASE, "method": "bayes"})
    with pytest.raises(ConfigError, match=r"parameters\.lr .*continuous.*uniform"):
        parse_sweep_config({**BASE, "method": "grid"})


def test_grid_enumerates_the_product_of_discrete_parameters() -> None:
    config = parse_sweep_config(
        {
            "method": "grid",
            "parameters": {
                "a": {"values": [1, 2]},
                "b": {"min": 0, "max": 2},
                "c": {"value": "x"},
                "n": {"parameters": {"d": {"values": [True, False]}}},
            },
        }
    )
    assert config.grid_size == 12
    points = [grid_suggestion(config, i).params for i in range(12)]
    assert {(p["a"], p["b"], p["c"], p["n"]["d"]) for p in points} == {
        (a, b, "x", d) for a in (1, 2) for b in (0, 1, 2) for d in (True, False)
    }


def test_hyperband_max_iter_brackets() -> None:
    config = parse_sweep_config(
        {
            **BASE,
            "metric": {"name": "loss"},
            "early_terminate": {"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3},
        }
    )
    assert config.early_terminate is not None and config.early_terminate.bands == (3, 9)
