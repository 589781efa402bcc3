"""What a run's config and summary share: item, attribute and mapping access.

:class:`AttributeMapping` keeps its keys and values in a plain dict (``_data``) and gives
``obj["key"]``, ``obj.key``, ``in``, ``len``, iteration, ``keys``/``items``/``get``, ``as_dict``,
``repr`` and equality with another of its kind or any mapping. ``obj["key"] = v``,
``obj.key = v`` and ``del obj["key"]`` go through the subclass's ``update`` and ``_changed``
(:class:`kiseki.sdk.config.Config`, :class:`kiseki.sdk.summary.Summary`), which decide how
values are checked and who hears of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar


class AttributeMapping(ABC):
    """A dict of named values read and set by item and by attribute.

    Subclasses set :attr:`_kind` (the lower-case word used in messages and to decide what
    compares equal) and may set :attr:`_snapshot_reads` to iterate over a copy, for values
    another thread may change while the caller iterates.
    """

    _kind: ClassVar[str] = "mapping"
    """What the values are, e.g. ``"config"``: names it in messages and ``repr``."""
    _snapshot_reads: ClassVar[bool] = False
    """Whether iteration, ``keys`` and ``items`` read a copy of the values."""

    def __init__(self) -> None:
        object.__setattr__(self, "_data", {})

    def _readable(self) -> dict[str, Any]:
        """The values to iterate over: a copy when :attr:`_snapshot_reads`, else the dict."""
        data: dict[str, Any] = self._data
        return dict(data) if self._snapshot_reads else data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._readable())

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(f"{self._kind} has no key {key!r}") from None

    def __repr__(self) -> str:
        return f"{self._kind.capitalize()}({self._data!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AttributeMapping):
            if other._kind != self._kind:
                return NotImplemented
            return bool(self._data == other._data)
        if isinstance(other, Mapping):
            return bool(self._data == dict(other))
        return NotImplemented

    def keys(self) -> Any:
        """The keys."""
        return self._readable().keys()

    def items(self) -> Any:
        """The (key, value) pairs."""
        return self._readable().items()

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key``, or ``default``."""
        return self._data.get(key, default)

    # -- writes: routed to the subclass's ``update`` and ``_changed`` ---------------------
    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __setattr__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._changed()

    @abstractmethod
    def update(self, data: Any) -> None:
        """Set several values at once; each subclass checks and records them its own way."""

    @abstractmethod
    def _changed(self) -> None:
        """Tell whoever listens that the values changed."""
