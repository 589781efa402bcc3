"""Agents on the embedded store: function and program mode, locked configs, failures,
control (pause/resume/stop/cancel), run_cap, and the read API."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import kiseki
from kiseki.errors import UsageError
from kiseki.settings import resolve_settings
from kiseki.sweeps.agent import AgentStoppedError, SweepAgent
from kiseki.sweeps.client import EmbeddedSweeps
from kiseki.sweeps.store import SweepRecord

GRID = {
    "method": "grid",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"lr": {"values": [0.1, 0.01, 0.001]}, "layers": {"values": [1, 2]}},
}


@pytest.fixture
def sweeps() -> Any:
    client = EmbeddedSweeps(resolve_settings())
    yield client
    client.close()


def stored(client: EmbeddedSweeps, sweep_id: str) -> SweepRecord:
    (record,) = client.find(sweep_id)
    return record


def test_function_mode_runs_every_grid_point_with_locked_config(sweeps: EmbeddedSweeps) -> None:
    sweep_id = kiseki.sweep(GRID, project="grid-fn")
    seen: list[dict[str, Any]] = []

    def train() -> None:
        run = kiseki.init(config={"epochs": 2, "lr": 5.0})
        with pytest.warns(kiseki.KisekiWarning, match=r"config\['lr'\] is set by sweep"):
            run.config.update({"lr": 123.0})
        with pytest.warns(kiseki.KisekiWarning, match="'layers'"):
            run.config.layers = 99
        seen.append(dict(run.config))
        for step in range(3):
            run.log({"loss": run.config.lr * run.config.layers / (step + 1)})

    with pytest.warns(kiseki.KisekiWarning, match="passed to kiseki.init"):
        report = kiseki.agent(sweep_id, function=train)
    assert report.trials == 6 and report.failed == 0
    assert sorted((c["lr"], c["layers"]) for c in seen) == sorted(
        (lr, n) for lr in (0.1, 0.01, 0.001) for n in (1, 2)
    )
    assert all(c["epochs"] == 2 for c in seen)

    sweep = kiseki.Api().sweep(f"grid-fn/{sweep_id}")
    assert sweep.state == "finished" and sweep.config["method"] == "grid"
    assert len(sweep.runs) == 6 and {r.state for r in sweep.runs} == {"finished"}
    assert {(r.config["lr"], r.config["layers"]) for r in sweep.runs} == {
        (c["lr"], c["layers"]) for c in seen
    }
    best = sweep.best_run()
    assert best is not None and (best.config["lr"], best.config["layers"]) == (0.001, 1)
    trial = sweeps.trials(stored(sweeps, sweep_id))[0]
    assert trial.value == pytest.approx(trial.params["lr"] * trial.params["layers"] / 3)


def test_agent_survives_failing_trials_and_records_them(sweeps: EmbeddedSweeps) -> None:
    sweep_id = kiseki.sweep(GRID, project="crashy")

    def train() -> None:
        run = kiseki.init()
        run.log({"loss": 1.0})
        if run.config.layers == 2:
            raise RuntimeError("diverged")

    report = kiseki.agent(sweep_id, function=train)
    assert report.trials == 6 and report.failed == 3
    trials = sweeps.trials(stored(sweeps, sweep_id))
    states = {t.params["layers"]: set() for t in trials}
    for t in trials:
        states[t.params["layers"]].add(t.effective_state)
    assert states == {1: {"finished"}, 2: {"failed"}}
    assert all("diverged" in (t.error or "") for t in trials if t.params["layers"] == 2)


def test_five_failures_at_the_start_stop_the_agent(sweeps: EmbeddedSweeps) -> None:
    sweep_id = kiseki.sweep(
        {"method": "random", "parameters": {"x": {"min": 0.0, "max": 1.0}}}, project="broken"
    )

    def train() -> None:
        kiseki.init()
        raise ValueError("no such dataset")

    with pytest.raises(AgentStoppedError, match=r"(?s)first 5 trials.*no such dataset"):
        kiseki.agent(sweep_id, function=train, count=20)
    trials = sweeps.trials(stored(sweeps, sweep_id))
    assert len(trials) == 5 and {t.effective_state for t in trials} == {"failed"}


def test_program_mode_expands_macros_and_survives_a_crashing_program(
    sweeps: EmbeddedSweeps, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = tmp_path / "train.py"
    program.write_text(
        "import json, os, sys\n"
        "import kiseki\n"
        "args = dict(a[2:].split('=', 1) for a in sys.argv[1:])\n"
        "run = kiseki.init()\n"
        "assert run.id == os.environ['KISEKI_RUN_ID']\n"
        "assert float(args['lr']) == run.config.lr\n"
        "run.log({'loss': run.config.lr})\n"
        "if run.config.lr > 0.05:\n"
        "    os._exit(3)  # a hard crash: no finish, no exit hooks\n"
        "run.finish()\n"
    )
    monkeypatch.chdir(tmp_path)
    sweep_id = kiseki.sweep(
        {
            "program": "train.py",
            "method": "grid",
            "metric": {"name": "loss"},
            "parameters": {"lr": {"values": [0.1, 0.01, 0.001]}},
        },
        project="programs",
    )
    client = sweeps
    record = stored(client, sweep_id)
    report = SweepAgent(client, record, resolve_settings()).run()
    assert report.trials == 3 and report.failed == 1
    trials = {t.params["lr"]: t for t in client.trials(record)}
    assert trials[0.1].state == "failed" and trials[0.1].exit_code == 3
    assert trials[0.01].effective_state == "finished" and trials[0.01].value == 0.01
    run = kiseki.Api().run(f"programs/{trials[0.001].run_id}")
    assert run.config["lr"] == 0.001 and run.state == "finished"


def test_pause_resume_stop_and_invalid_changes(sweeps: EmbeddedSweeps) -> None:
    sweep_id = kiseki.sweep(
        {"method": "random", "parameters": {"x": {"min": 0.0, "max": 1.0}}}, project="ctl"
    )
    record = sweeps.control(stored(sweeps, sweep_id), "pause")
    assert record.state == "paused"
    with pytest.raises(UsageError, match="is paused: it cannot be paused"):
        sweeps.control(record, "pause")
    done: list[Any] = []

    def train() -> None:
        kiseki.init().log({"x": 1})

    agent = SweepAgent(
        sweeps, record, resolve_settings(), function=train, count=2, paused_poll=0.05
    )
    thread = threading.Thread(target=lambda: done.append(agent.run()))
    thread.start()
    time.sleep(0.5)
    assert sweeps.trials(record) == []  # a paused sweep hands out nothing; the agent waits
    sweeps.control(record, "resume")
    thread.join(30)
    assert done and done[0].trials == 2
    record = sweeps.control(record, "stop")
    assert record.state == "finished"
    answer = sweeps.next_trial(record, "late-agent")
    assert answer.trial is None and "finished" in answer.reason
    with pytest.raises(UsageError, match="cannot be resumed"):
        sweeps.control(record, "resume")


def test_cancel_stops_running_trials_as_killed(
    sweeps: EmbeddedSweeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KISEKI_HEARTBEAT_INTERVAL", "0.1")
    sweep_id = kiseki.sweep(
        {"method": "random", "parameters": {"x": {"min": 0.0, "max": 1.0}}}, project="cancel"
    )
    record = stored(sweeps, sweep_id)

    def train() -> None:
        run = kiseki.init()
        run.log({"x": 0})
        other = EmbeddedSweeps(resolve_settings())
        try:
            other.control(record, "cancel")
        finally:
            other.close()
        deadline = time.monotonic() + 20
        while not run._finished and time.monotonic() < deadline:
            run.log({"x": 1})
            time.sleep(0.05)

    agent = SweepAgent(
        sweeps, record, resolve_settings(), function=train, count=5, early_stop_interval=0.1
    )
    report = agent.run()
    assert report.trials == 1 and "cancelled" in report.reason
    (trial,) = sweeps.trials(record)
    assert trial.effective_state == "killed"
    assert "cancelled" in (trial.stop_reason or "")
    assert kiseki.Api().sweep(f"cancel/{sweep_id}").state == "cancelled"


def test_cancel_interrupts_a_program_mode_trial(
    sweeps: EmbeddedSweeps, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KISEKI_HEARTBEAT_INTERVAL", "0.1")
    started = tmp_path / "started"
    (tmp_path / "loop.py").write_text(
        "import pathlib, sys, time\n"
        "import kiseki\n"
        "run = kiseki.init()\n"
        "run.log({'loss': 1.0})\n"
        f"pathlib.Path({str(started)!r}).write_text(run.id)\n"
        "for step in range(600):\n"
        "    run.log({'loss': 1.0 / (step + 1)})\n"
        "    time.sleep(0.05)\n"
    )
    monkeypatch.chdir(tmp_path)
    sweep_id = kiseki.sweep(
        {"program": "loop.py", "method": "grid", "parameters": {"x": {"values": [1, 2]}}},
        project="cancel-program",
    )
    record = stored(sweeps, sweep_id)
    agent = SweepAgent(sweeps, record, resolve_settings(), early_stop_interval=0.1)
    done: list[Any] = []
    thread = threading.Thread(target=lambda: done.append(agent.run()))
    thread.start()
    deadline = time.monotonic() + 30
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # the run reaches the store
    sweeps.control(record, "cancel")
    thread.join(60)
    assert done and done[0].trials == 1 and done[0].failed == 0
    (trial,) = sweeps.trials(record)
    assert trial.state == "killed" and trial.effective_state == "killed"
    assert kiseki.Api().run(f"cancel-program/{trial.run_id}").state == "killed"


def test_run_cap_limits_trials_across_agents(sweeps: EmbeddedSweeps) -> None:
    sweep_id = kiseki.sweep(
        {"method": "random", "run_cap": 3, "parameters": {"x": {"values": [1, 2, 3]}}},
        project="cap",
    )

    def train() -> None:
        kiseki.init().log({"x": 1})

    first = kiseki.agent(sweep_id, function=train, count=2)
    second = kiseki.agent(sweep_id, function=train, count=5)
    assert (first.trials, second.trials) == (2, 1)
    assert "run_cap of 3" in second.reason


def test_agent_arguments_are_checked() -> None:
    sweep_id = kiseki.sweep({"method": "grid", "parameters": {"x": {"values": [1]}}}, project="p")
    with pytest.raises(UsageError, match="count"):
        kiseki.agent(sweep_id, function=lambda: None, count=0)
    with pytest.raises(UsageError, match="no `program`"):
        kiseki.agent(sweep_id)
    with pytest.raises(kiseki.NotFoundError, match="No sweep nosuch"):
        kiseki.agent("nosuch", function=lambda: None)
    assert sys.modules["kiseki.sweeps.agent"]


def test_nested_parameters_reach_the_config_nested_and_locked() -> None:
    sweep_id = kiseki.sweep(
        {
            "method": "grid",
            "parameters": {
                "optimizer": {"parameters": {"name": {"values": ["adam"]}, "lr": {"value": 0.1}}},
                "epochs": {"value": 3},
            },
        },
        project="nested",
    )
    seen: list[dict[str, Any]] = []

    def train() -> None:
        run = kiseki.init()
        with pytest.warns(kiseki.KisekiWarning, match="'optimizer'"):
            run.config.update({"optimizer": {"name": "sgd"}})
        run.config.update({"batch": 32})  # not a sweep parameter: changes as usual
        seen.append(run.config.as_dict())

    assert kiseki.agent(sweep_id, function=train).trials == 1
    assert seen == [{"optimizer": {"name": "adam", "lr": 0.1}, "epochs": 3, "batch": 32}]
