"""Reading a run's history back as rows: every row in step order, or an even sample.

Numeric series live in chunks (``history_chunks``), everything else in ``history_values``;
both are merged back into rows by step here. Every committed row has a ``_timestamp`` value,
so the ``_timestamp`` series says which steps are rows. Steps within a series only grow,
so chunk ``first_step``/``last_step`` ranges are sorted and can be searched with ``bisect``.

:meth:`HistoryReader.scan` reads a page of steps at a time (a few chunks per key), so a
million-step run is streamed in bounded memory; :meth:`HistoryReader.sample` reads only the
chunks that hold the sampled steps.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from kiseki import jsoncodec
from kiseki.errors import UsageError
from kiseki.store.chunks import unpack_ints, unpack_values
from kiseki.store.schema import history_chunks, history_values

ROW_KEY = "_timestamp"
"""The series every committed row has: its steps are the run's rows."""
SYSTEM_PREFIXES = ("system/", "system.")
"""Keys of the ``system`` stream (hardware metrics); every other key is the ``default`` one."""
STREAMS = ("default", "system")
_TRAILING_KEYS = ("_runtime", "_timestamp")
_CHUNKS_PER_QUERY = 200
_STEPS_PER_QUERY = 500

Connect = Callable[[], AbstractContextManager[sa.Connection]]
Points = list[tuple[int, Any]]


@dataclass
class _Series:
    """Where one numeric series' chunks are, in step order."""

    chunk_nos: list[int] = field(default_factory=list)
    firsts: list[int] = field(default_factory=list)
    lasts: list[int] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)

    def overlapping(self, lo: int, hi: int) -> range:
        """Indices of the chunks holding steps in ``[lo, hi]``."""
        return range(bisect_left(self.lasts, lo), bisect_right(self.firsts, hi))

    def holding(self, step: int) -> int | None:
        """Index of the chunk whose range holds ``step``."""
        index = bisect_right(self.firsts, step) - 1
        return index if index >= 0 and self.lasts[index] >= step else None


class HistoryReader:
    """Reads the history of one run (by its ``runs.pk``).

    ``connect`` opens a short read connection; it is called once per page, so no
    connection is held while a caller consumes :meth:`scan`.
    """

    def __init__(self, connect: Connect, run_pk: int) -> None:
        self._connect = connect
        self.run_pk = run_pk

    # -- what the run has ------------------------------------------------------------------
    def _layout(self, conn: sa.Connection) -> tuple[dict[str, _Series], set[str]]:
        series: dict[str, _Series] = {}
        rows = conn.execute(
            sa.select(
                history_chunks.c.key,
                history_chunks.c.chunk_no,
                history_chunks.c.first_step,
                history_chunks.c.last_step,
                history_chunks.c.count,
            )
            .where(history_chunks.c.run_pk == self.run_pk)
            .order_by(history_chunks.c.key, history_chunks.c.chunk_no)
        )
        for key, chunk_no, first, last, count in rows:
            entry = series.get(key)
            if entry is None:
                entry = series[key] = _Series()
            entry.chunk_nos.append(chunk_no)
            entry.firsts.append(first)
            entry.lasts.append(last)
            entry.counts.append(count)
        value_keys = set(
            conn.scalars(
                sa.select(history_values.c.key)
                .where(history_values.c.run_pk == self.run_pk)
                .distinct()
            )
        )
        return series, value_keys

    def keys(self) -> list[str]:
        """Every history key the run has logged, sorted (``_runtime`` and ``_timestamp`` too)."""
        with self._connect() as conn:
            series, value_keys = self._layout(conn)
        return sorted(set(series) | value_keys)

    # -- every row ---------------------------------------------------------------------------
    def scan(
        self,
        keys: Sequence[str] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
        page_size: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """Every row with ``min_step <= _step < max_step``, in step order (a generator).

        Without ``keys`` a row holds ``_step`` and every key logged at that step; with
        ``keys``, only rows that have all of them, holding ``_step`` and those keys. Values
        are as logged: integers stay integers, NaN and infinities are kept. Pages hold at
        least ``page_size`` rows (whole chunks).
        """
        if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
            raise UsageError(f"page_size must be a positive integer, not {page_size!r}.")
        for name, bound in (("min_step", min_step), ("max_step", max_step)):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
                raise UsageError(f"{name} must be an integer step or None, not {bound!r}.")
        return self._scan(_wanted_keys(keys), min_step, max_step, page_size)

    def _scan(
        self,
        wanted: list[str] | None,
        min_step: int | None,
        max_step: int | None,
        page_size: int,
    ) -> Iterator[dict[str, Any]]:
        with self._connect() as conn:
            series, value_keys = self._layout(conn)
        rows_series = series.get(ROW_KEY)
        if rows_series is None:
            return
        if wanted is None:
            ordered = _ordered_keys(set(series) | value_keys)
        else:
            ordered = wanted
            if any(key not in series and key not in value_keys for key in wanted):
                return
        # with keys=["_step"] only, every row is one: read the row series for its steps
        numeric = [key for key in ordered if key in series] if ordered else [ROW_KEY]
        textual = [key for key in ordered if key in value_keys]
        cache: dict[tuple[str, int], tuple[list[int], list[Any]]] = {}
        for lo, hi in _windows(rows_series, page_size, min_step, max_step):
            points: dict[str, Points] = {}
            with self._connect() as conn:
                needed = {
                    key: [
                        series[key].chunk_nos[i]
                        for i in series[key].overlapping(lo, hi)
                        if (key, series[key].chunk_nos[i]) not in cache
                    ]
                    for key in numeric
                }
                cache.update(self._chunks(conn, needed))
                for (key, step), value in self._values(conn, textual, lo, hi):
                    points.setdefault(key, []).append((step, value))
            for key in numeric:
                entry = series[key]
                found = points.setdefault(key, [])
                for i in entry.overlapping(lo, hi):
                    chunk = cache.get((key, entry.chunk_nos[i]))
                    if chunk is None:  # deleted since the scan began
                        continue
                    steps, values = chunk
                    start, stop = bisect_left(steps, lo), bisect_right(steps, hi)
                    found.extend(zip(steps[start:stop], values[start:stop], strict=True))
            yield from _merge(points, ordered, wanted)
            for cached in [k for k, (steps, _) in cache.items() if steps[-1] <= hi]:
                del cache[cached]

    # -- a sample of rows ----------------------------------------------------------------------
    def sample(
        self,
        samples: int = 500,
        keys: Sequence[str] | None = None,
        x_axis: str = "_step",
        stream: str = "default",
    ) -> tuple[list[str], list[dict[str, Any]]]:
        """Up to ``samples`` rows spread evenly over the run (first and last always in).

        Without ``keys``: rows of every key of ``stream`` (``"default"`` or ``"system"``,
        see :data:`SYSTEM_PREFIXES`). With ``keys``: only rows having all of ``keys`` and
        ``x_axis``. Returns the column names and the rows (dicts; a key absent at a step is
        absent from that row).
        """
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise UsageError(f"samples must be a positive integer, not {samples!r}.")
        if stream not in STREAMS:
            raise UsageError(f"Unknown history stream {stream!r}: use one of {', '.join(STREAMS)}.")
        if stream == "system":  # the sampler's own table; else system keys logged to history
            from kiseki.store.run_data_queries import system_sample

            with self._connect() as conn:
                found = system_sample(conn, self.run_pk, samples, keys, x_axis)
            if found is not None:
                return found
        with self._connect() as conn:
            series, value_keys = self._layout(conn)
            present = set(series) | value_keys
            wanted = _wanted_keys(keys)
            if wanted is None:
                system = stream == "system"
                chosen = {
                    key
                    for key in present
                    if key in _TRAILING_KEYS or key.startswith(SYSTEM_PREFIXES) == system
                }
                ordered = _ordered_keys(chosen)
                if ROW_KEY not in series:
                    return ["_step", *ordered], []
                row_steps = self._steps(conn, ROW_KEY, series, value_keys)
            else:
                ordered = _wanted_keys([*wanted, x_axis]) or []
                if any(key not in present for key in ordered):
                    return [*ordered, "_step"], []
                step_sets = [set(self._steps(conn, key, series, value_keys)) for key in ordered]
                row_steps = sorted(set.intersection(*step_sets)) if step_sets else []
                if not step_sets and ROW_KEY in series:
                    row_steps = self._steps(conn, ROW_KEY, series, value_keys)
            chosen_steps = _spread(row_steps, samples)
            rows = {step: {"_step": step} for step in chosen_steps}
            self._fill(
                conn, rows, ordered, series, value_keys, everything=len(rows) == len(row_steps)
            )
        columns = ["_step", *ordered] if wanted is None else [*ordered, "_step"]
        if wanted is None:
            return columns, [rows[step] for step in chosen_steps]
        return columns, [{c: rows[step][c] for c in columns} for step in chosen_steps]

    def _steps(
        self, conn: sa.Connection, key: str, series: dict[str, _Series], value_keys: set[str]
    ) -> list[int]:
        """Every step at which ``key`` was logged, in order."""
        if key == "_step":
            return self._steps(conn, ROW_KEY, series, value_keys) if ROW_KEY in series else []
        steps: list[int] = []
        if key in series:
            for blob in conn.scalars(
                sa.select(history_chunks.c.steps)
                .where(history_chunks.c.run_pk == self.run_pk, history_chunks.c.key == key)
                .order_by(history_chunks.c.chunk_no)
            ):
                steps.extend(unpack_ints(blob))
        if key in value_keys:
            more = conn.scalars(
                sa.select(history_values.c.step).where(
                    history_values.c.run_pk == self.run_pk, history_values.c.key == key
                )
            ).all()
            steps = sorted(set(steps).union(more)) if steps else sorted(more)
        return steps

    def _fill(
        self,
        conn: sa.Connection,
        rows: dict[int, dict[str, Any]],
        ordered: Sequence[str],
        series: dict[str, _Series],
        value_keys: set[str],
        everything: bool,
    ) -> None:
        """Put the values of ``ordered`` keys at the steps of ``rows`` into them."""
        if not rows:
            return
        steps = sorted(rows)
        for key in ordered:
            entry = series.get(key)
            if entry is None:
                continue
            indices = sorted({i for s in steps if (i := entry.holding(s)) is not None})
            for start in range(0, len(indices), _CHUNKS_PER_QUERY):
                batch = [entry.chunk_nos[i] for i in indices[start : start + _CHUNKS_PER_QUERY]]
                for chunk_steps, values in self._chunks(conn, {key: batch}).values():
                    lookup = dict(zip(chunk_steps, values, strict=True))
                    lo = bisect_left(steps, chunk_steps[0])
                    hi = bisect_right(steps, chunk_steps[-1])
                    for step in steps[lo:hi]:
                        if step in lookup:
                            rows[step][key] = lookup[step]
        textual = [key for key in ordered if key in value_keys]
        if not textual:
            return
        if everything:
            found: Iterable[tuple[tuple[str, int], Any]] = self._values(conn, textual)
            for (key, step), value in found:
                if step in rows:
                    rows[step][key] = value
            return
        for start in range(0, len(steps), _STEPS_PER_QUERY):
            batch = steps[start : start + _STEPS_PER_QUERY]
            for (key, step), value in self._values(conn, textual, steps=batch):
                rows[step][key] = value

    # -- reading the tables ----------------------------------------------------------------------
    def _chunks(
        self, conn: sa.Connection, needed: dict[str, list[int]]
    ) -> dict[tuple[str, int], tuple[list[int], list[Any]]]:
        """Unpacked ``(steps, values)`` of the chunks ``needed`` (key -> chunk numbers)."""
        terms = [
            sa.and_(history_chunks.c.key == key, history_chunks.c.chunk_no.in_(chunk_nos))
            for key, chunk_nos in needed.items()
            if chunk_nos
        ]
        if not terms:
            return {}
        rows = conn.execute(
            sa.select(
                history_chunks.c.key,
                history_chunks.c.chunk_no,
                history_chunks.c.kind,
                history_chunks.c.steps,
                history_chunks.c.vals,
            ).where(history_chunks.c.run_pk == self.run_pk, sa.or_(*terms))
        )
        return {
            (key, chunk_no): (unpack_ints(steps), unpack_values(kind, vals))
            for key, chunk_no, kind, steps, vals in rows
        }

    def _values(
        self,
        conn: sa.Connection,
        keys: Sequence[str],
        lo: int | None = None,
        hi: int | None = None,
        steps: Sequence[int] | None = None,
    ) -> Iterator[tuple[tuple[str, int], Any]]:
        """Non-numeric values of ``keys``, decoded, within ``[lo, hi]`` or at ``steps``."""
        if not keys:
            return
        query = sa.select(
            history_values.c.key, history_values.c.step, history_values.c.value
        ).where(history_values.c.run_pk == self.run_pk, history_values.c.key.in_(list(keys)))
        if lo is not None:
            query = query.where(history_values.c.step >= lo)
        if hi is not None:
            query = query.where(history_values.c.step <= hi)
        if steps is not None:
            query = query.where(history_values.c.step.in_(list(steps)))
        for key, step, text in conn.execute(query):
            yield (key, step), jsoncodec.loads(text)


def _wanted_keys(keys: Sequence[str] | None) -> list[str] | None:
    if keys is None:
        return None
    if isinstance(keys, str):
        keys = [keys]
    for key in keys:
        if not isinstance(key, str):
            raise UsageError(f"History keys are strings, not {key!r}.")
    return [key for key in dict.fromkeys(keys) if key != "_step"]


def _ordered_keys(keys: Iterable[str]) -> list[str]:
    """User keys sorted, then ``_runtime`` and ``_timestamp``."""
    keys = set(keys)
    return [*sorted(keys - set(_TRAILING_KEYS)), *[k for k in _TRAILING_KEYS if k in keys]]


def _windows(
    rows_series: _Series, page_size: int, min_step: int | None, max_step: int | None
) -> Iterator[tuple[int, int]]:
    """Step ranges ``[lo, hi]`` of whole chunks of the row series, ``page_size`` rows or more."""
    lo_bound = rows_series.firsts[0] if min_step is None else min_step
    hi_bound = rows_series.lasts[-1] if max_step is None else max_step - 1
    if hi_bound < lo_bound:
        return
    start: int | None = None
    total = 0
    last = hi_bound
    for i in rows_series.overlapping(lo_bound, hi_bound):
        if start is None:
            start = max(rows_series.firsts[i], lo_bound)
        total += rows_series.counts[i]
        last = min(rows_series.lasts[i], hi_bound)
        if total >= page_size:
            yield start, last
            start, total = None, 0
    if start is not None:
        yield start, last


def _merge(
    points: dict[str, Points], ordered: Sequence[str], wanted: Sequence[str] | None
) -> Iterator[dict[str, Any]]:
    """Rows, in step order, from each key's ``(step, value)`` points of one page."""
    rows: dict[int, dict[str, Any]] = {}
    if not wanted:
        for step, _ in points.get(ROW_KEY, ()):
            rows[step] = {"_step": step}
        for key in ordered:
            for step, value in points.get(key, ()):
                row = rows.get(step)
                if row is not None:
                    row[key] = value
        for step in sorted(rows):
            yield rows[step]
        return
    for key in ordered:
        for step, value in points.get(key, ()):
            row = rows.get(step)
            if row is None:
                row = rows[step] = {"_step": step}
            row[key] = value
    width = len(ordered) + 1
    for step in sorted(rows):
        row = rows[step]
        if len(row) == width:
            yield row


def _spread(steps: list[int], samples: int) -> list[int]:
    """``samples`` of ``steps`` evenly spaced, the first and the last always among them."""
    count = len(steps)
    if count <= samples:
        return steps
    if samples == 1:
        return [steps[-1]]
    indices = sorted({round(i * (count - 1) / (samples - 1)) for i in range(samples)})
    return [steps[i] for i in indices]
