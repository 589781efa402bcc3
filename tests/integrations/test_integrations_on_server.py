"""An integration logging to a live ``kiseki server``: config, metrics and the model artifact
(its blobs uploaded by the run's sink) read back through the server."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

os.environ["KERAS_BACKEND"] = "torch"  # read when keras is first imported

np = pytest.importorskip("numpy")
pytest.importorskip("torch")
keras = pytest.importorskip("keras")

import kiseki  # noqa: E402
from kiseki.integrations.keras import KisekiMetricsLogger  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword"),
]


def _artifact_world() -> ModuleType:
    """The artifact tests' helpers (a live server with a blob store and users), loaded by path
    under a name of its own."""
    name = "integration_tests_artifact_world"
    if name not in sys.modules:
        path = Path(__file__).resolve().parent.parent / "artifacts" / "artifact_world.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Any]:
    """``kiseki server`` on SQLite with a blob directory and the user alice."""
    world = _artifact_world()
    store = str(tmp_path / "server.db")
    keys = world.create_users(store, "alice")
    live = world.LiveServer(
        store, tmp_path, extra_args=["--blob-store", str(tmp_path / "server-blobs")]
    ).start()
    yield world.ArtifactServer(live, store, tmp_path / "server-blobs", keys)
    if live.process is not None and live.process.poll() is None:
        live.stop()


def test_keras_model_artifact_goes_through_the_server(
    server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KISEKI_BASE_URL", server.url)
    monkeypatch.setenv("KISEKI_API_KEY", server.keys["alice"])
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(12, 3)).astype("float32")
    logger = KisekiMetricsLogger(project="remote", log_model=True)
    history = model.fit(x, x.sum(axis=1), batch_size=4, epochs=2, verbose=0, callbacks=[logger])
    run_id = logger.run.id
    kiseki.finish()

    run = kiseki.Api().run(f"remote/{run_id}")
    assert run.state == "finished" and run.config["epochs"] == 2
    epochs = [row for row in run.scan_history() if "epoch/loss" in row]
    assert [row["epoch/loss"] for row in epochs] == history.history["loss"]
    stored = kiseki.Api().artifact(f"remote/model-{run_id}:latest")
    restored = keras.saving.load_model(Path(stored.download(tmp_path / "d")) / "model.keras")
    for restored_weights, weights in zip(restored.get_weights(), model.get_weights(), strict=True):
        assert np.array_equal(restored_weights, weights)
