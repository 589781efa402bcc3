"""The kiseki command: version, demo, runs ls, sync."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

import kiseki
from kiseki.cli.main import cli


def invoke(*args: str):
    """Run the CLI in-process with a wide terminal."""
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"}, catch_exceptions=False)


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert kiseki.__version__ in result.output


def test_demo_logs_runs_with_groups_configs_and_a_failure() -> None:
    result = invoke("demo", "--epochs", "4", "--steps", "10", "--no-ui")
    assert result.exit_code == 0, result.output
    runs = list(kiseki.Api().runs("kiseki-demo"))
    assert len(runs) == 6
    assert {r.group for r in runs} == {"resnet18", "vit-tiny"}
    assert sorted(r.state for r in runs) == ["failed"] + ["finished"] * 5
    finished = [r for r in runs if r.state == "finished"]
    assert all(r.history_rows == 40 for r in finished)
    assert all("max" in r.summary["val/acc"] for r in finished)
    assert len({r.config["optimizer"]["lr"] for r in runs}) == 6


def test_demo_ends_by_serving_the_web_app_on_its_runs(tmp_path: Path) -> None:
    import os
    import re
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-c", "from kiseki.cli.main import main; main()", "demo"]
    command += ["--epochs", "1", "--steps", "3", "--dir", str(tmp_path), "--port", str(port)]
    log = tmp_path / "demo.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=os.environ)
    try:
        deadline = time.monotonic() + 60
        page = ""
        while time.monotonic() < deadline and process.poll() is None:
            found = re.search(r"(http://127\.0\.0\.1:\d+/projects/\S+)", log.read_text())
            if found:
                try:
                    with urllib.request.urlopen(found.group(1), timeout=2) as answer:
                        page = answer.read().decode()
                    break
                except OSError:
                    pass
            time.sleep(0.1)
        assert "kiseki-demo" in page and 'id="workspace"' in page, log.read_text()
        assert f":{port}/projects/" in log.read_text()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_runs_ls_lists_projects_and_runs() -> None:
    with kiseki.init(project="listing", name="first-run") as run:
        run.log({"loss": 0.5, "acc": 0.75})
    result = invoke("runs", "ls")
    assert result.exit_code == 0
    assert "listing" in result.output
    result = invoke("runs", "ls", "listing")
    assert result.exit_code == 0
    for text in ("finished", "first-run", run.id, "loss", "0.5", "acc", "0.75"):
        assert text in result.output


def test_runs_ls_of_a_missing_project_is_a_clear_error() -> None:
    result = CliRunner().invoke(cli, ["runs", "ls", "nope"])
    assert result.exit_code == 1
    assert "nope" in result.output


def test_sync_applies_offline_runs_exactly_once(kiseki_dir: Path) -> None:
    run = kiseki.init(project="offline-proj", mode="offline", config={"lr": 0.1})
    for i in range(30):
        run.log({"i": i})
    run.finish()
    dry = invoke("sync", "--dry-run")
    assert "would apply" in dry.output
    assert not any(p.name == "offline-proj" for p in kiseki.Api().projects())
    first = invoke("sync")
    assert first.exit_code == 0, first.output
    assert "applied" in first.output
    stored = kiseki.Api().run(f"offline-proj/{run.id}")
    assert stored.state == "finished"
    assert [r["i"] for r in stored.scan_history()] == list(range(30))
    again = invoke("sync")
    assert "Nothing to sync" in again.output
    forced = invoke("sync", run.dir)
    assert "applied 0 of" in forced.output
    assert [r["i"] for r in kiseki.Api().run(f"offline-proj/{run.id}").scan_history()] == list(
        range(30)
    )


def test_sync_can_move_a_run_to_another_project(kiseki_dir: Path) -> None:
    run = kiseki.init(project="a", mode="offline")
    run.log({"x": 1})
    run.finish()
    result = invoke("sync", run.dir, "--project", "b")
    assert result.exit_code == 0, result.output
    assert kiseki.Api().run(f"b/{run.id}").summary["x"] == 1
