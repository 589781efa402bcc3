"""A sweep configuration in W&B's format (YAML file or dict), validated into :class:`SweepConfig`.

Every problem raises :class:`~kiseki.errors.ConfigError` naming the key at fault::

    >>> parse_sweep_config({"method": "grid", "parameters": {"lr": {"values": [0.1, 0.01]}}})
    ... # doctest: +ELLIPSIS
    SweepConfig(method='grid', ...)
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiseki.errors import ConfigError
from kiseki.sweeps.distributions import Parameter, parse_parameter

METHODS = ("grid", "random", "bayes")
GOALS = ("minimize", "maximize")
TOP_LEVEL_KEYS = (
    "program",
    "command",
    "method",
    "metric",
    "parameters",
    "early_terminate",
    "run_cap",
    "name",
    "description",
    "project",
    "entity",
    "controller",
)
"""The keys a sweep config may hold (``controller`` is accepted and ignored: the store or the
server is always the controller)."""
DEFAULT_COMMAND = ("${env}", "${interpreter}", "${program}", "${args}")
"""The command of program mode when the config names none (as in W&B)."""


@dataclass(frozen=True)
class SweepMetric:
    """The metric a sweep optimises: a summary key of the trials' runs."""

    name: str
    goal: str = "minimize"
    target: float | None = None

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` is strictly better than ``b`` for this goal."""
        return a < b if self.goal == "minimize" else a > b

    def reached(self, value: float) -> bool:
        """Whether ``value`` meets the target (never when there is none)."""
        if self.target is None:
            return False
        return value <= self.target if self.goal == "minimize" else value >= self.target


@dataclass(frozen=True)
class Hyperband:
    """Hyperband early termination: the bracket iterations (``bands``), ``eta`` and ``strict``."""

    bands: tuple[int, ...]
    eta: float = 3.0
    strict: bool = False


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep configuration; ``raw`` is the configuration as given (JSON-able)."""

    method: str
    parameters: dict[tuple[str, ...], Parameter]
    raw: dict[str, Any] = field(repr=False)
    metric: SweepMetric | None = None
    early_terminate: Hyperband | None = None
    run_cap: int | None = None
    program: str | None = None
    command: tuple[str, ...] = DEFAULT_COMMAND
    name: str | None = None
    description: str | None = None

    @property
    def grid_size(self) -> int:
        """How many combinations a grid search enumerates (raises for continuous ones)."""
        size = 1
        for path, parameter in self.parameters.items():
            size *= len(parameter.grid_values(".".join(path)))
        return size


def load_sweep_config(source: Any) -> dict[str, Any]:
    """The raw configuration from a dict or the path of a YAML (or JSON) file."""
    if isinstance(source, str | Path):
        import yaml

        path = Path(source)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"Cannot read the sweep file {path}: {exc.strerror}.") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"The sweep file {path} is not valid YAML: {exc}") from exc
        if not isinstance(data, Mapping):
            raise ConfigError(f"The sweep file {path} must hold a mapping (method, parameters...).")
        return dict(data)
    if isinstance(source, Mapping):
        return copy.deepcopy(dict(source))
    raise ConfigError(
        f"A sweep config must be a dict or a YAML file path, not {type(source).__name__}."
    )


def parse_sweep_config(source: Any) -> SweepConfig:
    """Validate a sweep configuration (dict or YAML path) into a :class:`SweepConfig`."""
    raw = load_sweep_config(source)
    unknown = sorted(str(k) for k in raw if k not in TOP_LEVEL_KEYS)
    if unknown:
        raise ConfigError(
            f"The sweep config key {unknown[0]!r} is unknown: use {', '.join(TOP_LEVEL_KEYS)}."
        )
    method = raw.get("method")
    if method not in METHODS:
        raise ConfigError(
            f"The sweep config's `method` is {method!r}: use one of {', '.join(METHODS)}."
        )
    parameters_spec = raw.get("parameters")
    if not isinstance(parameters_spec, Mapping) or not parameters_spec:
        raise ConfigError(
            "The sweep config needs `parameters`: a mapping of parameter names to their "
            "values or distributions."
        )
    parameters: dict[tuple[str, ...], Parameter] = {}
    _flatten_parameters(parameters_spec, (), parameters)
    metric = _metric(raw.get("metric"))
    if method == "bayes" and metric is None:
        raise ConfigError("method bayes needs a `metric` (name and goal) to optimise.")
    early = _early_terminate(raw.get("early_terminate"))
    if early is not None and metric is None:
        raise ConfigError("early_terminate needs a `metric`: it compares the trials' metric.")
    run_cap = raw.get("run_cap")
    if run_cap is not None and (
        isinstance(run_cap, bool) or not isinstance(run_cap, int) or run_cap < 1
    ):
        raise ConfigError(f"run_cap must be a positive integer, not {run_cap!r}.")
    command = _command(raw.get("command"))
    program = raw.get("program")
    if program is not None and not isinstance(program, str):
        raise ConfigError(f"program must be a file name such as train.py, not {program!r}.")
    for key in ("name", "description", "project", "entity"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            raise ConfigError(f"The sweep config's `{key}` must be text, not {raw[key]!r}.")
    config = SweepConfig(
        method=str(method),
        parameters=parameters,
        raw=raw,
        metric=metric,
        early_terminate=early,
        run_cap=run_cap,
        program=program,
        command=command,
        name=raw.get("name"),
        description=raw.get("description"),
    )
    if method == "grid":
        _ = config.grid_size  # continuous parameters in a grid are an error
    return config


def _flatten_parameters(
    spec: Mapping[str, Any], prefix: tuple[str, ...], out: dict[tuple[str, ...], Parameter]
) -> None:
    for name, value in spec.items():
        path = (*prefix, str(name))
        where = ".".join(path)
        if not isinstance(name, str) or not name:
            raise ConfigError(f"parameters.{where}: parameter names must be non-empty text.")
        if isinstance(value, Mapping) and "parameters" in value:
            extra = sorted(set(value) - {"parameters"})
            if extra:
                raise ConfigError(
                    f"parameters.{where}.{extra[0]}: a nested parameter holds only `parameters`."
                )
            nested = value["parameters"]
            if not isinstance(nested, Mapping) or not nested:
                raise ConfigError(f"parameters.{where}.parameters must be a non-empty mapping.")
            _flatten_parameters(nested, path, out)
        else:
            out[path] = parse_parameter(value, where)


def _metric(spec: Any) -> SweepMetric | None:
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise ConfigError(f"metric must be a mapping with name and goal, not {spec!r}.")
    unknown = sorted(set(spec) - {"name", "goal", "target"})
    if unknown:
        raise ConfigError(f"metric.{unknown[0]} is unknown: use name, goal and target.")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError("metric.name must name the summary key to optimise, e.g. val/loss.")
    goal = spec.get("goal", "minimize")
    if goal not in GOALS:
        raise ConfigError(f"metric.goal is {goal!r}: use minimize or maximize.")
    target = spec.get("target")
    if target is not None and (isinstance(target, bool) or not isinstance(target, int | float)):
        raise ConfigError(f"metric.target must be a number, not {target!r}.")
    return SweepMetric(name, str(goal), None if target is None else float(target))


def _positive_int(spec: Mapping[str, Any], key: str) -> int:
    value = spec[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10**9:
        raise ConfigError(f"early_terminate.{key} must be a positive integer, not {value!r}.")
    return value


def _early_terminate(spec: Any) -> Hyperband | None:
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"early_terminate must be a mapping (type: hyperband, ...), not {spec!r}."
        )
    unknown = sorted(set(spec) - {"type", "min_iter", "max_iter", "s", "eta", "strict"})
    if unknown:
        raise ConfigError(
            f"early_terminate.{unknown[0]} is unknown: use type, min_iter, max_iter, s, eta "
            "and strict."
        )
    if spec.get("type") != "hyperband":
        raise ConfigError(f"early_terminate.type is {spec.get('type')!r}: use hyperband.")
    eta = spec.get("eta", 3)
    if isinstance(eta, bool) or not isinstance(eta, int | float) or not 1 < eta <= 1000:
        raise ConfigError(f"early_terminate.eta must be a number above 1, not {eta!r}.")
    strict = spec.get("strict", False)
    if not isinstance(strict, bool):
        raise ConfigError(f"early_terminate.strict must be true or false, not {strict!r}.")
    s = _positive_int(spec, "s") if "s" in spec else None
    if "min_iter" in spec:
        min_iter = _positive_int(spec, "min_iter")
        count = min(s or 3, 30)
        bands = [round(min_iter * eta**k) for k in range(count)]
    elif "max_iter" in spec:
        max_iter = _positive_int(spec, "max_iter")
        if s is None:
            raise ConfigError("early_terminate with max_iter needs `s`, the number of brackets.")
        bands = []
        band = float(max_iter)
        for _ in range(s):
            band /= eta
            if band < 1:
                break
            bands.append(int(band))
        if not bands:
            raise ConfigError(
                f"early_terminate: max_iter {max_iter} is too small for eta {eta:g}: no bracket."
            )
    else:
        raise ConfigError("early_terminate needs `min_iter`, or `max_iter` and `s`.")
    return Hyperband(tuple(sorted(set(bands))), float(eta), strict)


def _command(spec: Any) -> tuple[str, ...]:
    if spec is None:
        return DEFAULT_COMMAND
    if (
        not isinstance(spec, list)
        or not spec
        or not all(isinstance(part, str | int | float) for part in spec)
    ):
        raise ConfigError(
            "command must be a list of strings such as "
            '["${env}", "${interpreter}", "${program}", "${args}"].'
        )
    return tuple(str(part) for part in spec)


def nest_params(flat: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    """Nested parameters (``{("opt", "lr"): 0.1}`` -> ``{"opt": {"lr": 0.1}}``)."""
    nested: dict[str, Any] = {}
    for path, value in flat.items():
        node = nested
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return nested
