"""What the PyTorch Lightning logger does, independent of the ``lightning`` or
``pytorch_lightning`` package it is mixed into (see :mod:`kiseki.integrations.lightning`)."""

from __future__ import annotations

import os
from argparse import Namespace
from collections.abc import Mapping
from typing import Any, Literal

from lightning_utilities.core.rank_zero import rank_zero_only

from kiseki.errors import UsageError
from kiseki.integrations.config_values import plain_config, plain_metrics
from kiseki.integrations.model_artifacts import log_model_files
from kiseki.integrations.run_binding import RunBinding
from kiseki.sdk.run import Run

GLOBAL_STEP_KEY = "trainer/global_step"
_EXIT_CODES = {"success": 0, "failed": 1}


class KisekiLoggerCore:
    """The logger's behaviour; combined with Lightning's ``Logger`` base class into
    ``KisekiLogger`` by :mod:`kiseki.integrations.lightning` and
    :mod:`kiseki.integrations.pytorch_lightning`."""

    def __init__(
        self,
        project: str | None = None,
        name: str | None = None,
        id: str | None = None,
        save_dir: str | None = None,
        log_model: bool | Literal["all"] = False,
        checkpoint_name: str | None = None,
        prefix: str = "",
        experiment: Run | None = None,
        **init_kwargs: Any,
    ) -> None:
        if log_model not in (True, False, "all"):
            raise UsageError(
                f"KisekiLogger(log_model={log_model!r}): use False (no checkpoints), True (the "
                "checkpoints when training ends) or 'all' (each checkpoint as it is saved)."
            )
        super().__init__()
        for key, value in (("project", project), ("name", name), ("id", id)):
            if value is not None:
                init_kwargs[key] = value
        self._binding = RunBinding(experiment, init_kwargs, "Lightning")
        self._save_dir = save_dir
        self._log_model = log_model
        self._checkpoint_name = checkpoint_name
        self._prefix = prefix
        self._checkpoint_callback: Any = None
        self._logged_checkpoints: dict[str, float] = {}

    # -- what Lightning asks of a logger -------------------------------------------------------
    @property
    def experiment(self) -> Run:
        """The kiseki run this logger writes to (started on first use; a no-op run on every
        process but global rank 0). Use it to log anything else::

            trainer.logger.experiment.log({"samples": kiseki.Image(batch)})
        """
        if getattr(rank_zero_only, "rank", 0) != 0:
            return self._binding.disabled_run()
        return self._binding.run()

    @property
    def name(self) -> str:
        """The run's project (Lightning puts checkpoints under ``save_dir/name/version``)."""
        return self._attached_run().project

    @property
    def version(self) -> str:
        """The run's id."""
        return self._attached_run().id

    def _attached_run(self) -> Run:
        # reading the name or id of a finished run must not resume it
        return self._binding.current or self.experiment

    @property
    def save_dir(self) -> str | None:
        """Where Lightning saves checkpoints (``None``: the trainer's ``default_root_dir``)."""
        return self._save_dir

    @rank_zero_only
    def log_hyperparams(
        self, params: Mapping[str, Any] | Namespace, *args: Any, **kwargs: Any
    ) -> None:
        """Add the hyperparameters (``self.save_hyperparameters()`` of the module and the data
        module) to the run's config; values that are not plain data are recorded as text."""
        run = self.experiment
        with self._binding.failures_reported("record the hyperparameters"):
            run.config.update(plain_config(params), allow_val_change=True)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log ``metrics`` as a history row at ``step`` (Lightning's global step, also kept as
        ``trainer/global_step``). A step below the run's current one (a ``test`` after ``fit``
        on a resumed run) goes to the current step instead of being dropped."""
        run = self.experiment
        row = plain_metrics(metrics)
        if self._prefix:
            row = {f"{self._prefix}/{key}": value for key, value in row.items()}
        with self._binding.failures_reported("log metrics"):
            if step is None:
                run.log(row)
            else:
                row[GLOBAL_STEP_KEY] = step
                run.log(row, step=max(int(step), run.step))

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """Called by ``ModelCheckpoint`` after each save: with ``log_model="all"`` (or ``True``
        and ``save_top_k=-1``) the checkpoint is logged now, with ``True`` at the end."""
        self._checkpoint_callback = checkpoint_callback
        if self._log_model == "all" or (
            self._log_model is True and getattr(checkpoint_callback, "save_top_k", 1) == -1
        ):
            self._log_new_checkpoints()

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """At the end of ``fit``/``validate``/``test``: log the checkpoints still to log, then
        finish the run this logger started — ``finished`` on success, ``failed`` when training
        raised. Other statuses (a SLURM requeue) leave the run open to be resumed."""
        if not self._binding.started:
            return
        if self._log_model and self._checkpoint_callback is not None:
            self._log_new_checkpoints()
        if status in _EXIT_CODES:
            self._binding.finish(_EXIT_CODES[status])

    # -- checkpoints -----------------------------------------------------------------------
    def _log_new_checkpoints(self) -> None:
        """Log every checkpoint file of the callback not logged yet (or rewritten since), oldest
        first, as versions of the ``model`` artifact; the best one gets the alias ``best``."""
        if getattr(rank_zero_only, "rank", 0) != 0:
            return
        callback = self._checkpoint_callback
        run = self.experiment
        name = self._checkpoint_name or f"model-{run.id}"
        for modified, path, score in _saved_checkpoints(callback):
            if self._logged_checkpoints.get(path) == modified:
                continue
            metadata = {
                "original_filename": os.path.basename(path),
                "score": score,
                "ModelCheckpoint": {
                    key: getattr(callback, key, None)
                    for key in ("monitor", "mode", "save_last", "save_top_k", "save_weights_only")
                },
            }
            best = path == getattr(callback, "best_model_path", "")
            with self._binding.failures_reported("log a checkpoint as an artifact"):
                log_model_files(run, path, name, metadata, ["best"] if best else [])
                self._logged_checkpoints[path] = modified


def _saved_checkpoints(callback: Any) -> list[tuple[float, str, float | None]]:
    """(modification time, path, monitored score) of each checkpoint file the callback keeps,
    oldest first."""
    scores: dict[str, Any] = dict(getattr(callback, "best_k_models", {}) or {})
    for attribute in ("last_model_path", "best_model_path"):
        path = getattr(callback, attribute, "")
        if path:
            scores.setdefault(path, None)
    found = []
    for path, score in scores.items():
        try:
            modified = os.path.getmtime(path)
        except OSError:  # deleted since (a checkpoint pushed out of the top k)
            continue
        value = plain_metrics({"score": score})["score"] if score is not None else None
        found.append((modified, path, value if isinstance(value, int | float) else None))
    return sorted(found)
