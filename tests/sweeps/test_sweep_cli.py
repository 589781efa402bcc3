"""``kiseki sweep`` and ``kiseki agent``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

import kiseki
from kiseki.cli.main import cli


def invoke(*args: str) -> object:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_create_run_and_control_a_sweep_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.py").write_text(
        "import kiseki\nrun = kiseki.init()\nrun.log({'score': run.config.depth * 2})\n"
    )
    (tmp_path / "sweep.yaml").write_text(
        "program: train.py\nmethod: grid\nmetric:\n  name: score\n  goal: maximize\n"
        "parameters:\n  depth:\n    values: [1, 2, 3]\n"
    )
    created = invoke("sweep", "sweep.yaml", "--project", "cli-sweeps")
    assert created.exit_code == 0, created.output
    match = re.search(r"kiseki agent (\S+/cli-sweeps/(\w+))", created.output)
    assert match, created.output
    path, sweep_id = match.groups()

    ran = invoke("agent", path, "--count", "2")
    assert ran.exit_code == 0, ran.output
    assert "Agent ran 2 trial(s), 0 failed" in ran.output
    paused = invoke("sweep", "--pause", f"cli-sweeps/{sweep_id}")
    assert "is now paused" in paused.output
    again = invoke("sweep", "--pause", sweep_id)
    assert again.exit_code == 1 and "cannot be paused" in again.output
    assert "is now running" in invoke("sweep", "--resume", sweep_id).output
    rest = invoke("agent", sweep_id)
    assert "Agent ran 1 trial(s)" in rest.output and "grid points" in rest.output
    sweep = kiseki.Api().sweep(f"cli-sweeps/{sweep_id}")
    assert sweep.state == "finished" and sweep.best_run().config["depth"] == 3
    assert "is now cancelled" in invoke("sweep", "--cancel", sweep_id).output


def test_bad_input_is_explained(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: grid\nparameters:\n  lr:\n    min: 0.0\n    max: 1.0\n")
    result = invoke("sweep", str(bad))
    assert result.exit_code == 1 and "parameters.lr" in result.output
    assert invoke("sweep").exit_code == 2
    assert invoke("sweep", str(bad), "--stop", "abc").exit_code == 2
    missing = invoke("agent", "nosuchid")
    assert missing.exit_code == 1 and "No sweep nosuchid" in missing.output
