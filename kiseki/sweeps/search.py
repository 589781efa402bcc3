"""Suggesting a trial's parameters: grid, random and bayes (Optuna's TPE sampler).

A :class:`Suggestion` holds the parameters (nested as the trial's config gets them) and what
the method needs to remember about it (``internal``: Optuna's own values for ``bayes``), which
the store keeps with the trial. ``bayes`` keeps no state in memory: each suggestion rebuilds an
Optuna study from the finished trials (``internal`` and the metric they reached) and asks it
for the next point, so any agent on any machine continues the same search.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kiseki.errors import UsageError
from kiseki.sweeps.config import SweepConfig, nest_params

BAYES_STARTUP_TRIALS = 10
"""Trials drawn at random before TPE models the metric (Optuna's default)."""


@dataclass(frozen=True)
class Suggestion:
    """Chosen parameters, the method's memory of them, and the grid point's index."""

    params: dict[str, Any]
    internal: dict[str, Any]
    grid_index: int | None = None


@dataclass(frozen=True)
class FinishedTrial:
    """What ``bayes`` learns from a finished trial: its ``internal`` values and metric."""

    internal: dict[str, Any]
    value: float


def _key(path: tuple[str, ...]) -> str:
    return ".".join(path)


def grid_suggestion(config: SweepConfig, index: int) -> Suggestion:
    """The grid point number ``index`` (0 <= index < ``config.grid_size``), the last
    parameter varying fastest."""
    if not 0 <= index < config.grid_size:
        raise UsageError(f"Grid point {index} is outside the grid of {config.grid_size}.")
    chosen: dict[tuple[str, ...], Any] = {}
    remaining = index
    for path in reversed(list(config.parameters)):
        values = config.parameters[path].grid_values(_key(path))
        remaining, position = divmod(remaining, len(values))
        chosen[path] = values[position]
    ordered = {path: chosen[path] for path in config.parameters}
    return Suggestion(nest_params(ordered), {}, grid_index=index)


def random_suggestion(config: SweepConfig, rng: Any) -> Suggestion:
    """Each parameter drawn from its distribution with the numpy generator ``rng``."""
    chosen = {path: parameter.sample(rng) for path, parameter in config.parameters.items()}
    return Suggestion(nest_params(chosen), {})


def bayes_suggestion(
    config: SweepConfig, finished: Sequence[FinishedTrial], seed: int | None = None
) -> Suggestion:
    """The next point of Optuna's TPE sampler, fitted on the ``finished`` trials."""
    import optuna
    from optuna.trial import create_trial

    assert config.metric is not None  # validated: bayes needs a metric
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    distributions = {
        _key(path): dist
        for path, parameter in config.parameters.items()
        if (dist := parameter.optuna_distribution()) is not None
    }
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=BAYES_STARTUP_TRIALS)
    direction = "minimize" if config.metric.goal == "minimize" else "maximize"
    study = optuna.create_study(direction=direction, sampler=sampler)
    known = []
    for trial in finished:
        if set(trial.internal) != set(distributions) or not math.isfinite(trial.value):
            continue
        known.append(
            create_trial(params=trial.internal, distributions=distributions, value=trial.value)
        )
    if known:
        study.add_trials(known)
    asked = study.ask(distributions)
    internal = dict(asked.params)
    chosen = {
        path: parameter.from_internal(internal.get(_key(path)))
        for path, parameter in config.parameters.items()
    }
    return Suggestion(nest_params(chosen), internal)
