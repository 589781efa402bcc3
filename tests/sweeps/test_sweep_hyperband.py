"""Hyperband early termination stops the expected runs of a synthetic sweep."""

from __future__ import annotations

import time

import pytest

import kiseki
from kiseki.settings import resolve_settings
from kiseki.sweeps.client import EmbeddedSweeps
from kiseki.sweeps.config import Hyperband, SweepMetric
from kiseki.sweeps.hyperband import hyperband_stops
from kiseki.sweeps.trial import TrialContext, trial_scope

LOSS = SweepMetric("loss", "minimize")


def test_rule_keeps_the_best_fraction_at_each_bracket() -> None:
    rule = Hyperband(bands=(2, 4), eta=2.0)
    histories = {
        "a": [1.0, 0.8, 0.6, 0.5],
        "b": [2.0, 1.5, 1.2, 1.0],
        "c": [3.0, 2.9],
        "d": [0.9, 0.7],
        "e": [5.0],
    }
    stops = hyperband_stops(histories, {"c", "d", "e"}, rule, LOSS)
    assert [(s.run_id, s.band, s.threshold) for s in stops] == [("c", 2, 0.8)]
    # at bracket 4 only finished trials are there: b is worse but not running, so not stopped
    assert hyperband_stops(histories, {"b"}, rule, LOSS)[0].band == 2
    # maximize flips the order
    gains = {k: [-v for v in vs] for k, vs in histories.items()}
    assert [
        s.run_id for s in hyperband_stops(gains, {"c", "d"}, rule, SweepMetric("acc", "maximize"))
    ] == ["c"]


def test_strict_judges_the_value_at_the_bracket_and_needs_less_evidence() -> None:
    histories = {"good": [1.0, 0.5, 0.4], "worse_now": [0.9, 0.45, 2.0]}
    lenient = Hyperband(bands=(3,), eta=3.0)
    strict = Hyperband(bands=(3,), eta=3.0, strict=True)
    assert hyperband_stops(histories, {"worse_now"}, lenient, LOSS) == []  # 2 < eta trials
    (stop,) = hyperband_stops(histories, {"worse_now"}, strict, LOSS)
    assert stop.score == 2.0 and stop.threshold == 0.4


def test_synthetic_sweep_stops_the_losing_running_trial(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KISEKI_HEARTBEAT_INTERVAL", "0.1")
    sweep_id = kiseki.sweep(
        {
            "method": "random",
            "metric": {"name": "loss", "goal": "minimize"},
            "parameters": {"x": {"min": 0.0, "max": 1.0}},
            "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2, "s": 2},
        },
        project="hb",
    )
    client = EmbeddedSweeps(resolve_settings())
    (record,) = client.find(sweep_id)
    curves = {
        "a": ([1.0, 0.8, 0.6, 0.5], True),
        "b": ([2.0, 1.5, 1.2, 1.0], True),
        "c": ([3.0, 2.9], False),
        "d": ([0.9, 0.7], False),
        "e": ([5.0], False),
    }
    runs, run_ids = {}, {}
    for label, (losses, finish) in curves.items():
        trial = client.next_trial(record, "synthetic").trial
        assert trial is not None
        context = TrialContext(sweep_id, trial.run_id, "hb", record.entity, trial.params)
        with trial_scope(context):
            run = kiseki.init(reinit="create_new")
        for loss in losses:
            run.log({"loss": loss})
        if finish:
            run.finish()
            client.report(record, trial.run_id, "finished", 0, None)
        runs[label], run_ids[label] = run, trial.run_id
    deadline = time.monotonic() + 20
    wanted = {run_ids[k]: len(v[0]) for k, v in curves.items()}
    while time.monotonic() < deadline:
        seen = client.store.metric_histories(record)
        if all(len(seen.get(r, [])) == n for r, n in wanted.items()):
            break
        time.sleep(0.05)

    stopped = client.check_early_stop(record)
    assert stopped == [run_ids["c"]]
    assert client.check_early_stop(record) == []  # asked once only
    deadline = time.monotonic() + 20
    while not runs["c"]._finished and time.monotonic() < deadline:
        runs["c"].log({"loss": 2.8})  # the run learns of the stop at its next heartbeat
        time.sleep(0.05)
    for label in ("d", "e"):
        runs[label].finish()
    client.close()

    sweep = kiseki.Api().sweep(f"hb/{sweep_id}")
    by_run = {t["run_id"]: t for t in sweep.trials}
    assert by_run[run_ids["c"]]["state"] == "killed"
    assert "hyperband" in by_run[run_ids["c"]]["stop_reason"]
    assert "iteration 2" in by_run[run_ids["c"]]["stop_reason"]
    assert kiseki.Api().run(f"hb/{run_ids['c']}").state == "killed"
    assert {by_run[run_ids[k]]["state"] for k in ("a", "b", "d", "e")} == {"finished"}
