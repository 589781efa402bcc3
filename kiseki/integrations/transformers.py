"""A Hugging Face Transformers ``TrainerCallback`` that records a ``Trainer``'s run in kiseki.

>>> from transformers import Trainer                              # doctest: +SKIP
>>> from kiseki.integrations.transformers import KisekiCallback   # doctest: +SKIP
>>> trainer = Trainer(model=model, args=args, train_dataset=data,
...                   callbacks=[KisekiCallback(project="glue", log_model="end")])  # doctest: +SKIP

Passing the callback is all it takes: no ``report_to`` entry is needed (leave ``report_to`` at
``"none"``, or list other trackers there).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from numbers import Number
from pathlib import Path
from typing import Any, Literal

from transformers import TrainerCallback

from kiseki.errors import UsageError
from kiseki.integrations.config_values import plain_config, plain_metrics
from kiseki.integrations.model_artifacts import log_model_files
from kiseki.integrations.run_binding import RunBinding
from kiseki.sdk.run import Run

GLOBAL_STEP_KEY = "train/global_step"
# logged once, when training ends: kept in the summary rather than as a one-point chart (as W&B)
SINGLE_VALUE_KEYS = frozenset(
    {
        "train_runtime",
        "train_samples_per_second",
        "train_steps_per_second",
        "train_loss",
        "total_flos",
    }
)
_LOG_MODEL_CHOICES = (False, True, "end", "checkpoint")


def prefixed_metrics(logs: Mapping[str, Any]) -> dict[str, Any]:
    """The ``Trainer``'s log keys under W&B's sections: ``eval_loss`` → ``eval/loss``,
    ``test_acc`` → ``test/acc``, anything else under ``train/``.

    >>> prefixed_metrics({"loss": 0.5, "eval_loss": 0.7})
    {'train/loss': 0.5, 'eval/loss': 0.7}
    """
    result = {}
    for key, value in logs.items():
        for section in ("eval", "test"):
            if key.startswith(f"{section}_"):
                result[f"{section}/{key[len(section) + 1 :]}"] = value
                break
        else:
            result[f"train/{key}"] = value
    return result


class KisekiCallback(TrainerCallback):  # type: ignore[misc]
    """Record a ``Trainer`` run: the ``TrainingArguments`` and the model's config as the run's
    config, every ``Trainer`` log as a history row at the global step (``train/…``, ``eval/…``,
    ``test/…`` as W&B names them; the end-of-training figures such as ``train_runtime`` go to
    the summary) and, when asked, the model as a ``model`` artifact.

    ``log_model``: ``False`` (default), ``"end"`` (or ``True``: the final model, with its
    tokenizer or processor, as the artifact ``model-<run id>`` when training ends) or
    ``"checkpoint"`` (also every checkpoint the ``Trainer`` saves, as versions of
    ``checkpoint-<run id>``). The run is the given ``run``, else the active run, else one
    started on ``train()`` with ``project`` and any other :func:`kiseki.init` argument. It
    stays open after training (for ``trainer.evaluate()``); it finishes with
    ``kiseki.finish()`` or when the script exits.
    """

    def __init__(
        self,
        project: str | None = None,
        log_model: bool | Literal["end", "checkpoint"] = False,
        model_name: str | None = None,
        run: Run | None = None,
        **init_kwargs: Any,
    ) -> None:
        if log_model not in _LOG_MODEL_CHOICES:
            raise UsageError(
                f"KisekiCallback(log_model={log_model!r}): use False, 'end' (the final model) "
                "or 'checkpoint' (every saved checkpoint and the final model)."
            )
        if project is not None:
            init_kwargs["project"] = project
        self._binding = RunBinding(run, init_kwargs, "Transformers")
        self._name_given = "name" in init_kwargs
        self._log_model = "end" if log_model is True else log_model
        self._model_name = model_name

    @property
    def run(self) -> Run:
        """The kiseki run the callback logs to (started if training has not started it)."""
        return self._binding.run()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Start (or pick up) the run and record the arguments and the model's config."""
        if not state.is_world_process_zero:
            return
        if not self._name_given and args.run_name and args.run_name != args.output_dir:
            self._binding.set_default("name", args.run_name)
        run = self._binding.run()
        config: dict[str, Any] = {}
        model = kwargs.get("model")
        model_config = getattr(model, "config", None)
        if model_config is not None:
            config.update(
                model_config if isinstance(model_config, dict) else model_config.to_dict()
            )
        config.update(args.to_dict())
        if model is not None and hasattr(model, "num_parameters"):
            config["model/num_parameters"] = model.num_parameters()
        with self._binding.failures_reported("record the training arguments"):
            run.config.update(plain_config(config), allow_val_change=True)

    def on_log(
        self,
        args: Any,
        state: Any,
        control: Any,
        logs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Log the ``Trainer``'s figures at its global step."""
        if not state.is_world_process_zero or not logs:
            return
        run = self._binding.run()
        values = plain_metrics(logs)
        with self._binding.failures_reported("log metrics"):
            for key in SINGLE_VALUE_KEYS.intersection(values):
                run.summary[key] = values.pop(key)
            if values:
                row = {**prefixed_metrics(values), GLOBAL_STEP_KEY: state.global_step}
                run.log(row, step=max(int(state.global_step), run.step))

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """With ``log_model="checkpoint"``, log the checkpoint the ``Trainer`` just wrote."""
        if self._log_model != "checkpoint" or not state.is_world_process_zero:
            return
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if not folder.is_dir():
            return
        run = self._binding.run()
        metadata = {**self._numeric_summary(run), "global_step": state.global_step}
        with self._binding.failures_reported("log a checkpoint as an artifact"):
            log_model_files(run, folder, f"checkpoint-{run.id}", metadata)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """With ``log_model``, save the final model (and its tokenizer or processor) and log it
        as the ``model`` artifact."""
        model = kwargs.get("model")
        if not self._log_model or model is None or not state.is_world_process_zero:
            return
        run = self._binding.run()
        name = self._model_name or f"model-{run.id}"
        metadata = {**self._numeric_summary(run), "global_step": state.global_step}
        with (
            self._binding.failures_reported("log the model as an artifact"),
            tempfile.TemporaryDirectory(prefix="kiseki-model-") as folder,
        ):
            save_model(model, kwargs.get("processing_class"), Path(folder))
            log_model_files(run, folder, name, metadata)

    @staticmethod
    def _numeric_summary(run: Run) -> dict[str, Any]:
        return {
            key: value
            for key, value in run.summary.items()
            if isinstance(value, Number) and not isinstance(value, bool) and not key.startswith("_")
        }


def save_model(model: Any, processing_class: Any, folder: Path) -> None:
    """Write ``model`` (``save_pretrained`` for a Transformers model, else its state dict as
    ``model.pt``) and its tokenizer or processor, if any, into ``folder``."""
    if hasattr(model, "save_pretrained"):
        model.save_pretrained(folder)
    else:
        import torch

        torch.save(model.state_dict(), folder / "model.pt")
    if processing_class is not None and hasattr(processing_class, "save_pretrained"):
        processing_class.save_pretrained(folder)
