"""``define_metric``: how a metric is summarised, which step it is plotted against, visibility."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from kiseki.errors import UsageError

SUMMARY_CHOICES = ("min", "max", "mean", "first", "last", "none")


@dataclass(frozen=True)
class MetricDefinition:
    """One ``define_metric`` call; ``name`` may end with ``*`` to match a prefix."""

    name: str
    step_metric: str | None = None
    summary: tuple[str, ...] = ()
    hidden: bool = False

    def matches(self, key: str) -> bool:
        """Whether this definition applies to the logged key ``key``."""
        if self.name.endswith("*"):
            return key.startswith(self.name[:-1])
        return key == self.name

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (stored with the run so the web app can use it)."""
        data = asdict(self)
        data["summary"] = list(self.summary)
        return data


def parse_summary(summary: str | None) -> tuple[str, ...]:
    """Parse ``"min"`` or ``"min,max"`` into a tuple, refusing unknown aggregations."""
    if summary is None:
        return ()
    parts = tuple(p.strip().lower() for p in str(summary).split(",") if p.strip())
    for part in parts:
        if part not in SUMMARY_CHOICES:
            raise UsageError(
                f"define_metric(summary={summary!r}): {part!r} is not a summary; use one or "
                f"more of {', '.join(SUMMARY_CHOICES)} separated by commas."
            )
    if "none" in parts and len(parts) > 1:
        raise UsageError("define_metric(summary=...): 'none' cannot be combined with others.")
    return parts


class MetricRegistry:
    """The definitions of a run and the running aggregates they need."""

    def __init__(self) -> None:
        self.definitions: list[MetricDefinition] = []
        self._resolved: dict[str, MetricDefinition | None] = {}
        self._step_metrics: set[str] = set()
        self._last: dict[str, Any] = {}
        self._aggregates: dict[str, dict[str, Any]] = {}

    def __bool__(self) -> bool:
        return bool(self.definitions)

    def define(self, definition: MetricDefinition) -> None:
        """Add or replace a definition (a later call for the same name wins)."""
        self.definitions = [d for d in self.definitions if d.name != definition.name]
        self.definitions.append(definition)
        self._resolved.clear()
        self._step_metrics = {d.step_metric for d in self.definitions if d.step_metric}

    def resolve(self, key: str) -> MetricDefinition | None:
        """The definition for ``key``: an exact name wins, then the longest matching glob."""
        try:
            return self._resolved[key]
        except KeyError:
            pass
        best: MetricDefinition | None = None
        for definition in self.definitions:
            if definition.name == key:
                best = definition
                break
            if definition.matches(key) and (best is None or len(definition.name) > len(best.name)):
                best = definition
        self._resolved[key] = best
        return best

    def process(self, row: dict[str, Any], summary: dict[str, Any]) -> None:
        """Add step-metric values to ``row`` and fold it into ``summary`` (in place)."""
        for key in self._step_metrics.intersection(row):
            self._last[key] = row[key]
        for key in list(row):
            definition = self.resolve(key)
            if definition is None:
                summary[key] = row[key]
                continue
            step_metric = definition.step_metric
            if step_metric and step_metric not in row and step_metric in self._last:
                row[step_metric] = self._last[step_metric]
                summary.setdefault(step_metric, self._last[step_metric])
            self._summarise(key, row[key], definition.summary, summary)

    def _summarise(
        self, key: str, value: Any, ops: tuple[str, ...], summary: dict[str, Any]
    ) -> None:
        if not ops:
            summary[key] = value
            return
        if ops == ("none",):
            summary.pop(key, None)
            return
        state = self._aggregates.setdefault(key, {})
        number = type(value) in (int, float) and not (type(value) is float and math.isnan(value))
        if "first" in ops and "first" not in state:
            state["first"] = value
        if "last" in ops:
            state["last"] = value
        if number:
            if "min" in ops and ("min" not in state or value < state["min"]):
                state["min"] = value
            if "max" in ops and ("max" not in state or value > state["max"]):
                state["max"] = value
            if "mean" in ops:
                state["_sum"] = state.get("_sum", 0.0) + value
                state["_count"] = state.get("_count", 0) + 1
                state["mean"] = state["_sum"] / state["_count"]
        summary[key] = {op: state[op] for op in ops if op in state}
