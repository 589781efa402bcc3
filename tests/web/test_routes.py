"""The web app's pages and JSON in-process (no browser): content, errors, escaping, writes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from seed import XSS_NAME, XSS_NOTES, XSS_TAG, LiveRun, Seeder, seed_workspace
from web_kit import build_app, free_port

WRITE = {"X-Kiseki-Web": "1"}
RUNS = "/web-api/projects/alice/cifar/runs"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Seeder]]:
    """The app on a freshly seeded store (the module's tests may change its runs)."""
    directory = tmp_path_factory.mktemp("web-routes")
    seeder = seed_workspace(directory)
    with TestClient(build_app(directory)) as test_client:
        yield test_client, seeder
    seeder.close()


def names(response: Any) -> list[str]:
    """Run names of a runs response."""
    assert response.status_code == 200, response.text
    return [run["name"] for run in response.json()["runs"]]


def test_home_lists_projects_with_run_counts(client: tuple[TestClient, Seeder]) -> None:
    page = client[0].get("/")
    assert page.status_code == 200
    assert 'href="/projects/alice/cifar"' in page.text and "my-first-run" in page.text
    assert re.search(r'data-search="alice/cifar">.*?class="num">8<', page.text, re.S)
    projects = client[0].get("/web-api/projects").json()["projects"]
    counts = {p["name"]: p["run_count"] for p in projects}
    assert counts == {"cifar": 8, "long": 1, "my-first-run": 1}


def test_an_empty_store_shows_the_three_lines_that_log_a_first_run(tmp_path: Path) -> None:
    with TestClient(build_app(tmp_path)) as fresh:
        page = fresh.get("/")
    assert "No runs yet" in page.text and "import kiseki" in page.text
    assert 'kiseki.init(project="my-first-run")' in page.text
    assert "run.log(" in page.text


def test_unknown_projects_and_runs_are_404_pages(client: tuple[TestClient, Seeder]) -> None:
    http = client[0]
    missing = http.get("/projects/alice/nope")
    assert missing.status_code == 404 and "No project alice/nope" in missing.text
    assert http.get("/projects/alice/cifar/runs/nope").status_code == 404
    answer = http.post("/web-api/projects/alice/nope/runs", json={})
    assert answer.status_code == 404 and "No project" in answer.json()["error"]


def test_runs_are_searched_by_regex_filtered_and_sorted(client: tuple[TestClient, Seeder]) -> None:
    http = client[0]
    everything = http.post(RUNS, json={}).json()
    assert everything["total"] == 8 and everything["matched"] == 8
    assert "optimizer.lr" in everything["columns"]["config"]
    assert "train/loss" in everything["columns"]["summary"]
    assert names(http.post(RUNS, json={"search": "^VIT-adamw-[12]$"})) == [
        "vit-adamw-2",
        "vit-adamw-1",
    ]
    failed = http.post(RUNS, json={"filters": {"state": "failed"}})
    assert names(failed) == ["vit-adamw-diverged"]
    crashed = http.post(RUNS, json={"filters": {"state": {"$in": ["crashed"]}}})
    assert names(crashed) == ["resnet-crashed"]
    fast = {"config.optimizer.lr": {"$gte": 1e-3}, "tags": {"$ne": "sgd"}}
    by_lr = http.post(RUNS, json={"filters": fast, "order": "+config.optimizer.lr"})
    assert names(by_lr)[:3] == ["resnet-adam-1", "resnet-crashed", "vit-adamw-diverged"]
    best = http.post(RUNS, json={"order": "+summary_metrics.train/loss"}).json()["runs"]
    losses = [run["summary"]["train/loss"] for run in best]
    assert losses == sorted(losses) and len(losses) == 8


def test_bad_searches_and_filters_say_what_is_wrong(client: tuple[TestClient, Seeder]) -> None:
    http = client[0]
    bad_regex = http.post(RUNS, json={"search": "(unclosed"})
    assert bad_regex.status_code == 400 and "not a valid pattern" in bad_regex.json()["error"]
    bad_field = http.post(RUNS, json={"filters": {"colour": "red"}})
    assert bad_field.status_code == 400 and "Unknown run field 'colour'" in bad_field.text


def test_keys_and_series_for_the_charts(client: tuple[TestClient, Seeder]) -> None:
    http = client[0]
    keys = http.post(
        "/web-api/projects/alice/cifar/keys", json={"runs": ["r-adam-1", "v-adamw-1"]}
    ).json()
    assert keys["keys"] == ["epoch", "lr", "train/acc", "train/loss", "val/loss"]
    assert keys["x_axes"][:3] == ["_step", "_runtime", "_timestamp"]
    body = {"runs": ["r-adam-1", "v-adamw-1"], "keys": ["train/loss"], "points": 50}
    series = http.post("/web-api/projects/alice/cifar/series", json=body).json()
    by_run = {s["run"]: s for s in series["series"]}
    assert set(by_run) == {"r-adam-1", "v-adamw-1"}
    assert by_run["r-adam-1"]["sampled"] and len(by_run["r-adam-1"]["x"]) <= 52
    assert max(by_run["r-adam-1"]["y"]) > 5  # the spike at step 120 survives downsampling
    body = {**body, "after": {"r-adam-1": {"train/loss": 195}}, "x": "_runtime"}
    newer = http.post("/web-api/projects/alice/cifar/series", json=body).json()["series"]
    tail = next(s for s in newer if s["run"] == "r-adam-1")
    assert tail["steps"] == [196, 197, 198, 199] and tail["x"] == [196.0, 197.0, 198.0, 199.0]


def test_run_pages_show_the_overview(client: tuple[TestClient, Seeder]) -> None:
    page = client[0].get("/projects/alice/cifar/runs/r-adam-1").text
    for text in (
        "resnet-adam-1",
        "resnet with adam at lr=0.001",
        "gpu-box-01",
        "python train.py --lr 0.001",
        "/usr/bin/python3",
        "3.11.7",
        "AMD EPYC 7763",
        "NVIDIA A100-SXM4-40GB",
        "0123456789ab",
        "Search config",
        'data-path="optimizer.lr"',
        "Search summary",
    ):
        assert text in page, text
    charts = client[0].get("/projects/alice/cifar/runs/r-adam-1/charts")
    assert charts.status_code == 200 and "plotly.min.js" in charts.text
    assert "default-src 'self'" in charts.headers["content-security-policy"]


def test_user_text_is_escaped_everywhere(client: tuple[TestClient, Seeder]) -> None:
    http = client[0]
    for path in ("/projects/alice/cifar/runs/xss-1", "/projects/alice/cifar/runs/xss-1/charts"):
        page = http.get(path).text
        assert "<script>window.__xss" not in page and "<img src=x" not in page
        assert "&lt;script&gt;window.__xss=1&lt;/script&gt;bad-run" in page
        assert "<b>bold</b>" not in page and "<i>cfg</i>" not in page
    run = http.get("/web-api/runs/alice/cifar/xss-1").json()
    assert (run["name"], run["notes"], run["tags"]) == (XSS_NAME, XSS_NOTES, [XSS_TAG])


def test_writes_need_the_web_header_and_change_the_run(client: tuple[TestClient, Seeder]) -> None:
    http = client[0]
    url = "/web-api/runs/alice/cifar/v-adamw-2"
    refused = http.patch(url, json={"name": "sneaky"})
    assert refused.status_code == 400 and "X-Kiseki-Web" in refused.json()["error"]
    changed = http.patch(
        url, json={"name": "vit-renamed", "notes": "n", "tags": [" a ", "b", "a"]}, headers=WRITE
    ).json()
    assert (changed["name"], changed["notes"], changed["tags"]) == ("vit-renamed", "n", ["a", "b"])
    assert http.patch(url, json={"privacy": "public"}, headers=WRITE).json()["privacy"] == "public"
    empty = http.patch(url, json={"name": "  "}, headers=WRITE)
    assert empty.status_code == 400 and "cannot be empty" in empty.json()["error"]
    unknown = http.patch(url, json={"state": "finished"}, headers=WRITE)
    assert unknown.status_code == 422


def test_stop_and_delete(client: tuple[TestClient, Seeder]) -> None:
    http, seeder = client
    live = LiveRun(seeder, run_id="live-routes")
    try:
        stopped = http.post("/web-api/runs/alice/cifar/live-routes/stop", headers=WRITE).json()
        assert stopped["stop_requested"] is True and stopped["state"] == "running"
    finally:
        live.close()
    ended = http.post("/web-api/runs/alice/cifar/r-sgd-1/stop", headers=WRITE)
    assert ended.status_code == 400 and "already ended" in ended.json()["error"]
    assert http.delete("/web-api/runs/alice/cifar/r-sgd-1").status_code == 400
    assert http.delete("/web-api/runs/alice/cifar/r-sgd-1", headers=WRITE).json() == {
        "deleted": "r-sgd-1"
    }
    assert http.get("/web-api/runs/alice/cifar/r-sgd-1").status_code == 404


def test_static_files_and_plotly_are_served_and_nothing_else(
    client: tuple[TestClient, Seeder],
) -> None:
    http = client[0]
    css = http.get("/web-static/app.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert (
        http.get("/web-static/workspace.js").headers["content-type"].startswith("text/javascript")
    )
    plotly = http.get("/web-static/plotly.min.js")
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
    for path in ("/web-static/..%2Fpayloads.py", "/web-static/routes.py", "/web-static/.hidden.js"):
        assert http.get(path).status_code == 404, path


def test_kiseki_ui_serves_the_local_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from kiseki.cli.main import cli

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(app=app, **kw))
    port = free_port()
    result = CliRunner().invoke(cli, ["ui", "--dir", str(tmp_path), "--port", str(port)])
    assert result.exit_code == 0, result.output
    assert f"http://127.0.0.1:{port}/" in result.output and served["port"] == port
    assert served["host"] == "127.0.0.1"
    with TestClient(served["app"]) as http:
        assert "No runs yet" in http.get("/").text
    outside = CliRunner().invoke(
        cli, ["ui", "--dir", str(tmp_path), "--host", "0.0.0.0", "--port", str(free_port())]
    )
    assert "has no login" in outside.output


def test_kiseki_ui_says_when_the_port_is_taken(tmp_path: Path) -> None:
    import socket

    from kiseki.cli.main import cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["ui", "--dir", str(tmp_path), "--port", str(port)])
    assert result.exit_code == 1
    assert f"Port {port} on 127.0.0.1 is already in use" in result.output
    assert f"--port {port + 1}" in result.output
