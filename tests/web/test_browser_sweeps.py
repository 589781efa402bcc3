"""The sweep page in a real browser: trials table, metric chart, parallel coordinates,
importance, the control buttons, the workspace's link and a trial's run page."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import pytest
from web_kit import LiveServer, build_app, shot

import kiseki
from kiseki.settings import resolve_settings
from kiseki.sweeps.agent import SweepAgent
from kiseki.sweeps.client import EmbeddedSweeps
from kiseki.sweeps.config import parse_sweep_config
from kiseki.sweeps.trial import TrialContext, trial_scope

pytestmark = pytest.mark.slow
PROJECT = "sweepy"
SEARCH = {
    "name": "lr search",
    "method": "random",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {
        "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
        "optimizer": {"values": ["adam", "sgd"]},
        "layers": {"min": 1, "max": 4},
    },
}


@pytest.fixture(scope="module")
def sweep_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A store with a random sweep of 8 trials, and a cancelled sweep whose running trial was
    killed by the cancel."""
    directory = tmp_path_factory.mktemp("sweep-web")
    settings = resolve_settings({"kiseki_dir": directory, "silent": True})
    client = EmbeddedSweeps(settings)
    search = client.create(PROJECT, parse_sweep_config(SEARCH))

    def train() -> None:
        run = kiseki.init(settings={"kiseki_dir": str(directory), "silent": True})
        for step in range(10):
            loss = math.log10(run.config.lr) ** 2 / (step + 1) + run.config.layers * 0.1
            run.log({"val_loss": loss})

    SweepAgent(client, search, settings, function=train, count=8).run()
    killed = client.create(PROJECT, parse_sweep_config({**SEARCH, "name": "killed one"}))
    trial = client.next_trial(killed, "browser-test").trial
    assert trial is not None
    context = TrialContext(killed.sweep_id, trial.run_id, PROJECT, search.entity, trial.params)
    with trial_scope(context):
        running = kiseki.init(settings={"kiseki_dir": str(directory), "silent": True})
    running.log({"val_loss": 5.0})
    deadline = time.monotonic() + 20
    while client.trials(killed)[0].run_pk is None and time.monotonic() < deadline:
        time.sleep(0.05)  # the run reaches the store from its writer thread
    client.control(killed, "cancel")  # asks the live run to stop, with the reason
    running.finish()
    server = LiveServer(build_app(directory))
    yield {
        "server": server,
        "entity": search.entity,
        "search": search.sweep_id,
        "killed_run": trial.run_id,
        "dir": directory,
    }
    server.stop()
    client.close()


def test_sweep_page_shows_trials_charts_importance_and_controls(
    page: Any, sweep_world: dict[str, Any]
) -> None:
    server: LiveServer = sweep_world["server"]
    entity = sweep_world["entity"]
    page.goto(f"{server.url}/projects/{entity}/{PROJECT}")
    page.get_by_role("link", name="Sweeps").click()
    page.wait_for_selector("#sweep-list")
    assert page.locator("#sweep-list tbody tr").count() == 2
    page.get_by_role("link", name="lr search").click()
    page.wait_for_selector("#sweep-page[data-loaded='true']")
    assert page.locator("#trials-table tbody tr").count() == 8
    headers = page.locator("#trials-table thead th").all_inner_texts()
    assert headers[:4] == ["#", "Run", "State", "val_loss"]
    assert set(headers[4:7]) == {"lr", "optimizer", "layers"}
    page.wait_for_selector("#metric-chart[data-traces='8']")
    page.wait_for_selector("#parcoords-chart[data-dimensions='4'][data-lines='8']")
    # drawn, not replaced by the "could not start WebGL" notice (the page's CSP allows it)
    assert page.locator("#parcoords-chart .main-svg").count() >= 1
    assert page.locator("#parcoords-chart p").count() == 0
    importance = page.locator("#importance-table tbody tr")
    assert importance.count() == 3
    assert set(importance.evaluate_all("rows => rows.map(r => r.dataset.param)")) == {
        "lr",
        "optimizer",
        "layers",
    }
    shot(page, "sweep-page")

    state = page.locator("#sweep-state")
    assert state.inner_text() == "running"
    assert page.locator("[data-action='resume']").is_disabled()
    page.locator("[data-action='pause']").click()
    page.wait_for_selector("#sweep-state.state-paused")
    page.locator("[data-action='resume']").click()
    page.wait_for_selector("#sweep-state.state-running")
    page.locator("[data-action='stop']").click()
    page.wait_for_selector("#sweep-state.state-finished")
    sweep = kiseki.Api(sweep_world["dir"]).sweep(f"{PROJECT}/{sweep_world['search']}")
    assert sweep.state == "finished"

    first_run = page.locator("#trials-table tbody tr a").first
    first_run.click()
    page.wait_for_selector("#sweep-note:not([hidden])")
    assert "of sweep lr search" in page.locator("#sweep-note").inner_text()


def test_killed_trial_run_page_says_why(page: Any, sweep_world: dict[str, Any]) -> None:
    server: LiveServer = sweep_world["server"]
    url = (
        f"{server.url}/projects/{sweep_world['entity']}/{PROJECT}/runs/{sweep_world['killed_run']}"
    )
    page.goto(url)
    page.wait_for_selector("#sweep-note:not([hidden])")
    note = page.locator("#sweep-note").inner_text()
    assert "Trial 1 of sweep killed one" in note
    assert "was cancelled" in note
    assert page.locator("#run-state").inner_text() == "killed"
    shot(page, "sweep-killed-run")
