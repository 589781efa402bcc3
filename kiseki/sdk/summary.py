"""A run's summary: one value per metric describing the run as a whole."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kiseki.errors import UsageError
from kiseki.sdk.mapping import AttributeMapping
from kiseki.sdk.values import normalize_tree


class Summary(AttributeMapping):
    """The summary of a run; by default the last logged value of every key.

    ``run.summary["best_acc"] = 0.93`` and ``run.summary.update({...})`` override a value
    (a later ``log`` of the same key overwrites it again). Keys with ``define_metric(...,
    summary="min")`` hold a dict such as ``{"min": 0.1}``.
    """

    _kind = "summary"
    _snapshot_reads = True  # the run's writer thread may update values while a user iterates

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        super().__init__()
        object.__setattr__(self, "_on_change", on_change)

    def as_dict(self) -> dict[str, Any]:
        """A copy of the summary as a plain dict."""
        return dict(self._data)

    def update(self, data: Mapping[str, Any]) -> None:
        """Set several summary values at once (nested dicts stay nested)."""
        if not isinstance(data, Mapping):
            raise UsageError(
                f"summary.update() takes a dict, got {type(data).__name__}: "
                "call run.summary.update({'name': value})."
            )
        self._data.update(normalize_tree(dict(data), "summary"))
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()


class DetachedSummary(Summary):
    """``kiseki.summary`` when no run is active: empty, and changing it explains what to do."""

    def update(self, data: Mapping[str, Any]) -> None:
        """Refuse: there is no run."""
        raise UsageError(
            "kiseki.summary was changed before kiseki.init() (or after finish): "
            "call kiseki.init() first."
        )
