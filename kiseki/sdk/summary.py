"""A run's summary: one value per metric describing the run as a whole."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from kiseki.errors import UsageError
from kiseki.sdk.values import normalize_tree


class Summary:
    """The summary of a run; by default the last logged value of every key.

    ``run.summary["best_acc"] = 0.93`` and ``run.summary.update({...})`` override a value
    (a later ``log`` of the same key overwrites it again). Keys with ``define_metric(...,
    summary="min")`` hold a dict such as ``{"min": 0.1}``.
    """

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        object.__setattr__(self, "_values", {})
        object.__setattr__(self, "_on_change", on_change)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        del self._values[key]
        self._changed()

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._values))

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"summary has no key {key!r}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __repr__(self) -> str:
        return f"Summary({self._values!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Summary):
            return self._values == other._values
        if isinstance(other, Mapping):
            return self._values == dict(other)
        return NotImplemented

    def keys(self) -> Any:
        """The summary's keys."""
        return dict(self._values).keys()

    def items(self) -> Any:
        """The summary's (key, value) pairs."""
        return dict(self._values).items()

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default``."""
        return self._values.get(key, default)

    def as_dict(self) -> dict[str, Any]:
        """A copy of the summary as a plain dict."""
        return dict(self._values)

    def update(self, data: Mapping[str, Any]) -> None:
        """Set several summary values at once (nested dicts stay nested)."""
        if not isinstance(data, Mapping):
            raise UsageError(
                f"summary.update() takes a dict, got {type(data).__name__}: "
                "call run.summary.update({'name': value})."
            )
        self._values.update(normalize_tree(dict(data), "summary"))
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
