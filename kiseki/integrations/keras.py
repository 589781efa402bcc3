"""Keras 3 callbacks that record ``model.fit`` in kiseki (any backend: JAX, PyTorch, TensorFlow).

>>> from kiseki.integrations.keras import KisekiMetricsLogger, KisekiModelCheckpoint
... # doctest: +SKIP
>>> model.fit(x, y, epochs=5, validation_split=0.2, callbacks=[
...     KisekiMetricsLogger(project="keras-demo", log_freq=10, log_model=True),
...     KisekiModelCheckpoint("checkpoints/best.keras", monitor="val_loss", save_best_only=True),
... ])                                                                      # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import keras

from kiseki.errors import UsageError
from kiseki.integrations.config_values import plain_config, plain_metrics
from kiseki.integrations.model_artifacts import log_model_files
from kiseki.integrations.run_binding import RunBinding
from kiseki.sdk.run import Run

EPOCH_STEP_KEY = "epoch/epoch"
BATCH_STEP_KEY = "batch/batch_step"


class KisekiMetricsLogger(keras.callbacks.Callback):  # type: ignore[misc]
    """Log ``fit``'s settings to the run's config (epochs, steps per epoch, the optimizer's
    config, the parameter count) and its metrics to the history: after each epoch as
    ``epoch/<metric>`` against ``epoch/epoch``, and with ``log_freq="batch"`` or a number ``n``
    also every ``n`` batches as ``batch/<metric>`` against ``batch/batch_step`` (the W&B
    names); the learning rate is logged with both.

    With ``log_model=True`` the trained model is saved (``model.keras``) and logged as the
    ``model`` artifact ``model-<run id>`` when training ends. The run is the given ``run``,
    else the active run, else one started with ``project`` and any other :func:`kiseki.init`
    argument; it stays open after ``fit`` (for ``evaluate``) and finishes with
    ``kiseki.finish()`` or when the script exits.
    """

    def __init__(
        self,
        log_freq: Literal["epoch", "batch"] | int = "epoch",
        initial_global_step: int = 0,
        log_model: bool = False,
        project: str | None = None,
        run: Run | None = None,
        **init_kwargs: Any,
    ) -> None:
        super().__init__()
        if log_freq == "batch":
            log_freq = 1
        if log_freq != "epoch" and not (isinstance(log_freq, int) and log_freq > 0):
            raise UsageError(
                f"KisekiMetricsLogger(log_freq={log_freq!r}): use 'epoch', 'batch' or a "
                "positive number of batches."
            )
        if project is not None:
            init_kwargs["project"] = project
        self._binding = RunBinding(run, init_kwargs, "Keras")
        self._batch_every = None if log_freq == "epoch" else log_freq
        self._global_batch = initial_global_step
        self._log_model = log_model

    @property
    def run(self) -> Run:
        """The kiseki run the callback logs to."""
        return self._binding.run()

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        """Start (or pick up) the run and record the training settings."""
        run = self._binding.run()
        model = self.model
        config: dict[str, Any] = {
            "epochs": self.params.get("epochs"),
            "steps_per_epoch": self.params.get("steps"),
        }
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None:
            config["optimizer"] = optimizer.get_config()
        if model is not None and model.built:
            config["model/name"] = model.name
            config["model/num_parameters"] = model.count_params()
        with self._binding.failures_reported("record the training settings"):
            run.define_metric("epoch/*", step_metric=EPOCH_STEP_KEY)
            if self._batch_every is not None:
                run.define_metric("batch/*", step_metric=BATCH_STEP_KEY)
            run.config.update(plain_config(config), allow_val_change=True)

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Every ``log_freq`` batches, log the running metrics."""
        if self._batch_every is None:
            return
        self._global_batch += 1
        if self._global_batch % self._batch_every:
            return
        row = {f"batch/{key}": value for key, value in plain_metrics(logs or {}).items()}
        row[BATCH_STEP_KEY] = self._global_batch
        self._log(row, "batch/learning_rate")

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        """Log the epoch's metrics (validation ones included)."""
        row = {f"epoch/{key}": value for key, value in plain_metrics(logs or {}).items()}
        row[EPOCH_STEP_KEY] = epoch
        self._log(row, "epoch/learning_rate")

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        """With ``log_model``, log the trained model as an artifact."""
        if not self._log_model or self.model is None:
            return
        run = self._binding.run()
        metadata = {"epochs": self.params.get("epochs"), **plain_metrics(logs or {})}
        with (
            self._binding.failures_reported("log the model as an artifact"),
            tempfile.TemporaryDirectory(prefix="kiseki-model-") as folder,
        ):
            path = Path(folder) / "model.keras"
            self.model.save(path)
            log_model_files(run, path, f"model-{run.id}", metadata)

    def _log(self, row: dict[str, Any], learning_rate_key: str) -> None:
        learning_rate = current_learning_rate(self.model)
        if learning_rate is not None:
            row[learning_rate_key] = learning_rate
        run = self._binding.run()
        with self._binding.failures_reported("log metrics"):
            run.log(row)


class KisekiModelCheckpoint(keras.callbacks.ModelCheckpoint):  # type: ignore[misc]
    """Keras's ``ModelCheckpoint`` that also logs each file it saves as the next version of
    the ``model`` artifact ``checkpoint-<run id>`` (``checkpoint_name`` to choose another
    name); with ``save_best_only`` each version gets the alias ``best``. Takes every argument
    of ``keras.callbacks.ModelCheckpoint``. Logs to the given ``run``, else the active run
    (the one :class:`KisekiMetricsLogger` started), else one started with ``init_kwargs``.
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
        checkpoint_name: str | None = None,
        run: Run | None = None,
        **init_kwargs: Any,
    ) -> None:
        super().__init__(
            filepath=os.fspath(filepath),
            monitor=monitor,
            verbose=verbose,
            save_best_only=save_best_only,
            save_weights_only=save_weights_only,
            mode=mode,
            save_freq=save_freq,
            initial_value_threshold=initial_value_threshold,
        )
        self._binding = RunBinding(run, init_kwargs, "Keras")
        self._checkpoint_name = checkpoint_name

    def _save_model(self, epoch: int, batch: int | None, logs: Mapping[str, Any] | None) -> None:
        # Keras decides inside this method whether to save (save_best_only); logging after it
        # when the file changed is the one place that sees exactly the saves (W&B's callback
        # hooks the same method).
        filepath = self._get_file_path(epoch, batch, logs or {})
        before = _modified_time(filepath)
        super()._save_model(epoch, batch, logs)
        after = _modified_time(filepath)
        if after is None or after == before:
            return
        run = self._binding.run()
        name = self._checkpoint_name or f"checkpoint-{run.id}"
        metadata = {"epoch": epoch + 1, "batch": batch, **plain_metrics(logs or {})}
        with self._binding.failures_reported("log a checkpoint as an artifact"):
            log_model_files(run, filepath, name, metadata, ["best"] if self.save_best_only else [])


def current_learning_rate(model: Any) -> float | None:
    """The optimizer's learning rate now (a schedule's current value), or ``None``."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return None
    try:
        return float(optimizer.learning_rate)
    except (AttributeError, TypeError, ValueError):
        return None


def _modified_time(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None
