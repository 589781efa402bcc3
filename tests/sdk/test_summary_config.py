"""Summary defaults and overrides, define_metric, and the config object."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import kiseki
from kiseki.errors import ConfigError, UsageError


def stored(run: kiseki.Run):
    return kiseki.Api().run(run.path)


def test_summary_holds_the_last_logged_value_of_each_key() -> None:
    run = kiseki.init(project="p")
    kiseki.log({"loss": 3.0, "acc": 0.1})
    kiseki.log({"loss": 1.0})
    assert run.summary["loss"] == 1.0 and run.summary["acc"] == 0.1
    run.finish()
    assert stored(run).summary["loss"] == 1.0
    assert stored(run).summary["acc"] == 0.1


def test_summary_override_and_later_log_overwrites_again() -> None:
    run = kiseki.init(project="p")
    kiseki.log({"loss": 3.0})
    run.summary["loss"] = 0.5
    run.summary.update({"best_epoch": 4, "nested": {"a": 1}})
    kiseki.summary["via_module"] = True
    assert stored_now(run)["loss"] == 0.5
    kiseki.log({"other": 1})
    run.finish()
    summary = stored(run).summary
    assert summary["loss"] == 0.5
    assert summary["best_epoch"] == 4
    assert summary["nested"] == {"a": 1}
    assert summary["via_module"] is True
    run2 = kiseki.init(project="p")
    run2.summary["loss"] = 0.5
    kiseki.log({"loss": 2.0})
    run2.finish()
    assert stored(run2).summary["loss"] == 2.0


def stored_now(run: kiseki.Run) -> dict:
    """The in-process summary as a dict."""
    return run.summary.as_dict()


def test_define_metric_aggregates_summary_values() -> None:
    run = kiseki.init(project="p")
    kiseki.define_metric("loss", summary="min")
    kiseki.define_metric("acc", summary="max,mean")
    kiseki.define_metric("debug/*", summary="none")
    kiseki.define_metric("first_only", summary="first")
    for loss, acc in [(3.0, 0.2), (1.0, 0.6), (2.0, 0.4)]:
        kiseki.log({"loss": loss, "acc": acc, "debug/x": 1, "first_only": loss})
    run.finish()
    summary = stored(run).summary
    assert summary["loss"] == {"min": 1.0}
    assert summary["acc"]["max"] == 0.6
    assert summary["acc"]["mean"] == pytest.approx(0.4)
    assert "debug/x" not in summary
    assert summary["first_only"] == {"first": 3.0}


def test_define_metric_glob_and_step_metric_rows_carry_the_step_value() -> None:
    run = kiseki.init(project="p")
    kiseki.define_metric("epoch")
    kiseki.define_metric("val/*", step_metric="epoch", summary="max")
    kiseki.log({"epoch": 0, "train/loss": 1.0})
    kiseki.log({"train/loss": 0.9})
    kiseki.log({"val/acc": 0.5})
    kiseki.log({"epoch": 1})
    kiseki.log({"val/acc": 0.7})
    run.finish()
    rows = [r for r in stored(run).scan_history() if "val/acc" in r]
    assert [(r["val/acc"], r["epoch"]) for r in rows] == [(0.5, 0), (0.7, 1)]
    assert stored(run).summary["val/acc"] == {"max": 0.7}
    definitions = stored(run).metric_definitions
    assert definitions["val/*"]["step_metric"] == "epoch"


def test_define_metric_hidden_is_stored_and_bad_summary_refused() -> None:
    run = kiseki.init(project="p")
    run.define_metric("internal/*", hidden=True)
    with pytest.raises(UsageError, match="median"):
        run.define_metric("x", summary="median")
    run.finish()
    assert stored(run).metric_definitions["internal/*"]["hidden"] is True


def test_config_access_update_and_read_back() -> None:
    run = kiseki.init(project="p", config={"lr": 0.1, "model": {"layers": 3, "act": "relu"}})
    assert run.config.lr == 0.1
    assert run.config["model"]["layers"] == 3
    run.config.batch_size = 32
    run.config["epochs"] = 10
    run.config.update({"dropout": 0.5})
    kiseki.config.update({"seed": 1})
    assert run.config.as_dict() == {
        "lr": 0.1,
        "model": {"layers": 3, "act": "relu"},
        "batch_size": 32,
        "epochs": 10,
        "dropout": 0.5,
        "seed": 1,
    }
    run.finish()
    assert stored(run).config["model"] == {"layers": 3, "act": "relu"}
    assert stored(run).config["seed"] == 1


def test_changing_a_config_value_needs_allow_val_change() -> None:
    run = kiseki.init(project="p", config={"lr": 0.1})
    with pytest.raises(ConfigError, match="allow_val_change"):
        run.config.update({"lr": 0.2, "new": 1})
    assert "new" not in run.config
    with pytest.raises(ConfigError):
        run.config.lr = 0.3
    run.config.update({"lr": 0.1})  # same value is fine
    run.config.update({"lr": 0.2}, allow_val_change=True)
    run.finish()
    assert stored(run).config["lr"] == 0.2


def test_setdefaults_only_adds_missing_keys() -> None:
    run = kiseki.init(project="p", config={"lr": 0.1})
    result = run.config.setdefaults({"lr": 0.5, "epochs": 3})
    assert result == {"lr": 0.1, "epochs": 3}


def test_config_from_namespace_and_yaml_file(tmp_path: Path) -> None:
    namespace = argparse.Namespace(lr=0.01, optimizer="adam")
    run = kiseki.init(project="p", config=namespace)
    assert run.config.optimizer == "adam"
    path = tmp_path / "c.yaml"
    path.write_text("layers: 4\nwidth:\n  value: 128\n  desc: hidden size\n")
    run.config.update(str(path))
    assert run.config.layers == 4 and run.config.width == 128


def test_config_defaults_yaml_in_working_directory_is_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config-defaults.yaml").write_text("lr:\n  value: 0.3\nbatch: 16\n")
    monkeypatch.chdir(tmp_path)
    run = kiseki.init(project="p", config={"batch": 64})
    assert run.config.lr == 0.3
    assert run.config.batch == 64


def test_invalid_config_is_refused_clearly() -> None:
    with pytest.raises(ConfigError, match="YAML"):
        kiseki.init(project="p", config="not-a-file.txt")
    run = kiseki.init(project="p")
    with pytest.raises(TypeError, match="not supported"):
        run.config.update({"callback": object()})


def test_module_config_before_init_explains_itself() -> None:
    assert len(kiseki.config) == 0
    with pytest.raises(UsageError, match=r"kiseki.init\(\)"):
        kiseki.config.update({"a": 1})
    with pytest.raises(UsageError):
        kiseki.summary["a"] = 1
