"""The official client against ``kiseki server --workers 2``: any worker may answer any of
its requests (signed URLs and artifacts being uploaded are shared), and a progress bar it
redraws with ``\\r`` is stored as its last drawing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import LiveServer, create_user_key
from wandb_harness import PROGRESS_SCRIPT, client_env, last_json, run_script, wandb_python

import kiseki

pytestmark = pytest.mark.slow  # drives real clients or ML libraries: full suite only


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    """``kiseki server --workers 2`` on SQLite with user ``alice``; yields it and her key."""
    store = str(tmp_path / "server.db")
    key = create_user_key(store)
    live = LiveServer(store, tmp_path, workers=2).start()
    yield live, key
    if live.process is not None and live.process.poll() is None:
        live.stop()


def test_two_workers_take_a_run_with_an_artifact_and_a_redrawn_progress_bar(
    two_workers: tuple[LiveServer, str], tmp_path: Path
) -> None:
    server, key = two_workers
    python = wandb_python("0.31")
    env = client_env(server.url, key, tmp_path / "wandb")
    args = ["workers", str(tmp_path / "dl")]
    result = last_json(run_script(python, PROGRESS_SCRIPT, args, env, tmp_path / "work").stdout)
    assert result["size"] == 1000  # uploaded, committed and downloaded across both workers
    secret = tmp_path / "wandb-compat" / "url-secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    api = kiseki.Api(base_url=server.url, api_key=key)
    run = api.run(f"alice/workers/{result['id']}")
    assert run.state == "finished"
    texts = [line.text for line in run.logs()]
    bar = [text for text in texts if "training" in text]
    assert bar == ["training 3/3"], texts  # the redraws replaced the line, nothing appended
    assert texts.index("before the bar") < texts.index("training 3/3")
    assert texts.index("training 3/3") < texts.index("after the bar")
    assert [r["train.loss"] for r in run.scan_history()] == [1.0, 0.5, 1.0 / 3]
    assert run.summary["train"] == {"loss": 1.0 / 3}
    artifact = api.artifact("alice/workers/model:latest")
    folder = Path(artifact.download(root=str(tmp_path / "kiseki-dl")))
    assert (folder / "weights.bin").read_bytes() == b"w" * 1000
