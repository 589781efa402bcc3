"""What the integrations share: plain config values, failures kept out of the training loop,
and libraries imported only by the integration that needs them."""

from __future__ import annotations

import argparse
import enum
import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import kiseki
from kiseki.integrations.config_values import plain_config, plain_metrics
from kiseki.integrations.run_binding import RunBinding


class Strategy(enum.Enum):
    EPOCH = "epoch"


def loss_function() -> None:
    """A callable in a config."""


def test_plain_config_keeps_data_and_describes_objects() -> None:
    config = plain_config(
        argparse.Namespace(
            lr=np.float32(0.5),
            steps=np.int64(3),
            strategy=Strategy.EPOCH,
            out=Path("runs/a"),
            loss=loss_function,
            layer=Path,
            shape=(2, 3),
            tags={"a"},
            nested={1: {"inf": math.inf}},
            flag=True,
            nothing=None,
        )
    )
    assert config == {
        "lr": 0.5,
        "steps": 3,
        "strategy": "epoch",
        "out": "runs/a",
        "loss": f"{__name__}.loss_function",
        "layer": "pathlib.Path",
        "shape": [2, 3],
        "tags": ["a"],
        "nested": {"1": {"inf": "inf"}},
        "flag": True,
        "nothing": None,
    }
    assert type(config["lr"]) is float and type(config["steps"]) is int
    run = kiseki.init(project="support", config=config)
    assert dict(run.config) == config


def test_plain_metrics_unwraps_zero_dimensional_values() -> None:
    torch = pytest.importorskip("torch")
    metrics = plain_metrics({"loss": torch.tensor(0.25), "acc": np.float64(0.5), "n": 3})
    assert metrics == {"loss": 0.25, "acc": 0.5, "n": 3}
    assert type(metrics["loss"]) is float


def test_a_failed_log_warns_once_and_does_not_raise() -> None:
    binding = RunBinding(None, {"project": "support"}, "Test")
    run = binding.run()
    warning = r"kiseki \(Test\): could not log metrics: .*'bad'"
    with (
        pytest.warns(kiseki.KisekiWarning, match=warning),
        binding.failures_reported("log metrics"),
    ):
        run.log({"bad": object()})
    with warnings.catch_warnings(), binding.failures_reported("log metrics"):
        warnings.simplefilter("error")
        run.log({"bad": object()})
    run.log({"good": 1.0})
    binding.finish(0)
    assert run.finished and binding.owned
    assert kiseki.Api().run(f"support/{run.id}").summary["good"] == 1.0


def test_binding_uses_the_active_run_and_leaves_it_open() -> None:
    own = kiseki.init(project="support")
    binding = RunBinding(None, {"project": "elsewhere"}, "Test")
    assert binding.run() is own and not binding.owned
    binding.finish(0)
    assert not own.finished


def test_importing_kiseki_and_the_integrations_package_imports_no_library() -> None:
    code = (
        "import sys, kiseki, kiseki.integrations.run_binding, kiseki.integrations.model_artifacts\n"
        "heavy = {'torch', 'lightning', 'pytorch_lightning', 'transformers', 'keras'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
