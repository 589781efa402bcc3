"""The Keras 3 callbacks with the real ``model.fit`` on the PyTorch backend (no TensorFlow)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ["KERAS_BACKEND"] = "torch"  # read when keras is first imported

np = pytest.importorskip("numpy")
pytest.importorskip("torch")
keras = pytest.importorskip("keras")

import kiseki  # noqa: E402
from kiseki.integrations.keras import KisekiMetricsLogger, KisekiModelCheckpoint  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    # Keras's PyTorch backend turns variables into arrays the way NumPy 2 deprecates
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword"),
]


def tiny_model() -> Any:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)], name="tiny")
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse", metrics=["mae"])
    return model


def tiny_data(size: int, seed: int) -> tuple[Any, Any]:
    x = np.random.default_rng(seed).normal(size=(size, 4)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def test_fit_records_config_epoch_and_batch_metrics_and_final_model(tmp_path: Path) -> None:
    model = tiny_model()
    batches: list[dict[str, float]] = []
    recorder = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batches.append(dict(logs))
    )
    logger = KisekiMetricsLogger(project="keras", log_freq=2, log_model=True)
    x, y = tiny_data(16, 0)
    history = model.fit(
        x,
        y,
        batch_size=4,
        epochs=3,
        validation_data=tiny_data(8, 1),
        verbose=0,
        callbacks=[recorder, logger],
    )
    run_id = logger.run.id
    kiseki.finish()

    run = kiseki.Api().run(f"keras/{run_id}")
    assert run.config["epochs"] == 3 and run.config["steps_per_epoch"] == 4
    assert run.config["optimizer"]["learning_rate"] == pytest.approx(0.05)
    assert run.config["model/num_parameters"] == 5

    rows = list(run.scan_history())
    epochs = [row for row in rows if "epoch/loss" in row]
    assert [row["epoch/epoch"] for row in epochs] == [0, 1, 2]
    for name in ("loss", "val_loss", "mae", "val_mae"):
        assert [row[f"epoch/{name}"] for row in epochs] == history.history[name]
    assert all(row["epoch/learning_rate"] == pytest.approx(0.05) for row in epochs)

    batch_rows = [row for row in rows if "batch/loss" in row]
    assert [row["batch/batch_step"] for row in batch_rows] == [2, 4, 6, 8, 10, 12]
    assert [row["batch/loss"] for row in batch_rows] == [b["loss"] for b in batches[1::2]]

    stored = kiseki.Api().artifact(f"keras/model-{run_id}:latest")
    assert stored.type == "model" and stored.metadata["epochs"] == 3
    restored = keras.saving.load_model(Path(stored.download(tmp_path / "d")) / "model.keras")
    for restored_weights, weights in zip(restored.get_weights(), model.get_weights(), strict=True):
        assert np.array_equal(restored_weights, weights)


def test_model_checkpoint_logs_each_saved_best_model(tmp_path: Path) -> None:
    run = kiseki.init(project="keras")
    model = tiny_model()
    checkpoint = KisekiModelCheckpoint(
        tmp_path / "best.keras", monitor="loss", save_best_only=True, checkpoint_name="tiny-best"
    )
    # "best" as the highest loss: saved once, then skipped while the loss falls
    highest = KisekiModelCheckpoint(
        tmp_path / "highest.keras", monitor="loss", mode="max", save_best_only=True
    )
    saved: list[int] = []
    saved_highest: list[int] = []

    def note_saves(epoch: int, logs: dict[str, float]) -> None:
        for callback, epochs in ((checkpoint, saved), (highest, saved_highest)):
            if callback.best == logs["loss"]:
                epochs.append(epoch)

    watcher = keras.callbacks.LambdaCallback(on_epoch_end=note_saves)
    x, y = tiny_data(16, 0)
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[checkpoint, highest, watcher])
    run.finish()

    versions = kiseki.Api().artifacts("model", "keras/tiny-best")
    assert [v.metadata["epoch"] for v in versions] == [epoch + 1 for epoch in saved]
    highest_versions = kiseki.Api().artifacts("model", f"keras/checkpoint-{run.id}")
    assert [v.metadata["epoch"] for v in highest_versions] == [e + 1 for e in saved_highest]
    assert len(saved_highest) < 3, "epochs that did not improve must log no version"
    assert saved[-1] == 2, "the loss must improve in the last epoch for the weights to compare"
    assert set(versions[-1].aliases) == {"best", "latest"}
    best = kiseki.Api().artifact("keras/tiny-best:best")
    restored = keras.saving.load_model(Path(best.download(tmp_path / "d")) / "best.keras")
    for restored_weights, weights in zip(restored.get_weights(), model.get_weights(), strict=True):
        assert np.array_equal(restored_weights, weights)


def test_rejects_an_unknown_log_freq() -> None:
    with pytest.raises(kiseki.UsageError, match="log_freq='step'"):
        KisekiMetricsLogger(log_freq="step")  # type: ignore[arg-type]
