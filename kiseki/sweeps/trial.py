"""How a trial's ``kiseki.init()`` learns its sweep, run id and parameters.

Function mode (``kiseki.agent(sweep_id, function=train)``) sets the trial in-process with
:func:`trial_scope`; program mode hands it to the child process through the environment
(``KISEKI_SWEEP_ID``, ``KISEKI_RUN_ID``, ``KISEKI_PROJECT``, ``KISEKI_ENTITY`` and
``KISEKI_SWEEP_PARAM_PATH``, a JSON file holding the parameters), which the settings read.
The run then gets the trial's id and project, and its config holds the parameters, locked:
a later change to one of them is ignored with a warning naming it.

This module stays free of heavy imports: ``kiseki.init`` imports it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiseki.errors import ConfigError
from kiseki.settings import Settings


@dataclass(frozen=True)
class TrialContext:
    """The trial a run is about to become: its sweep, run id, project, entity, parameters."""

    sweep_id: str
    run_id: str
    project: str | None
    entity: str | None
    params: dict[str, Any]


_current: list[TrialContext] = []


@contextmanager
def trial_scope(trial: TrialContext) -> Iterator[TrialContext]:
    """Make ``trial`` the one the next ``kiseki.init()`` in this process starts."""
    _current.append(trial)
    try:
        yield trial
    finally:
        _current.remove(trial)


def read_param_file(path: Path) -> dict[str, Any]:
    """The parameters an agent wrote for a program-mode trial."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"Cannot read the sweep parameters file {path} (KISEKI_SWEEP_PARAM_PATH): {exc}. "
            "Start trials with `kiseki agent`, which writes it."
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"The sweep parameters file {path} must hold a JSON object.")
    return data


def pending_trial(settings: Settings) -> TrialContext | None:
    """The trial ``kiseki.init()`` with these settings starts, if it starts one."""
    if _current:
        return _current[-1]
    if settings.sweep_id is None or settings.run_id is None:
        return None
    params = read_param_file(settings.sweep_param_path) if settings.sweep_param_path else {}
    return TrialContext(
        settings.sweep_id, settings.run_id, settings.project, settings.entity, params
    )


def apply_trial(settings: Settings, trial: TrialContext) -> Settings:
    """The settings of the trial's run: its id, project and entity."""
    changes: dict[str, Any] = {"run_id": trial.run_id, "sweep_id": trial.sweep_id}
    if trial.project:
        changes["project"] = trial.project
    if trial.entity:
        changes["entity"] = trial.entity
    return dataclasses.replace(settings, **changes)


def merge_params(config: dict[str, Any], trial: TrialContext) -> dict[str, Any]:
    """``config`` with the trial's parameters, which win over what the script passed (with a
    warning naming each key whose value the sweep overrides)."""
    import warnings

    from kiseki.sdk.run import KisekiWarning

    merged = dict(config)
    for key, value in trial.params.items():
        if key in merged and merged[key] != value:
            warnings.warn(
                f"config[{key!r}] is set by sweep {trial.sweep_id} to {value!r}: the value "
                f"{merged[key]!r} passed to kiseki.init() is ignored.",
                KisekiWarning,
                stacklevel=4,
            )
        merged[key] = value
    return merged
