"""Metric series for charts: min/max-preserving downsampling that reads chunk statistics.

A chart never needs more points than it has pixels, but it must not hide a spike. For each
requested (run, metric) :class:`SeriesReader` returns at most about ``points`` points:

* a series with that few points in the requested step range comes back whole;
* a long series whose chunks are at least as many as the buckets wanted is summarised from
  the ``history_chunks`` columns alone (``first_step``, ``last_step``, ``vmin``, ``vmax``):
  consecutive chunks are merged into buckets and each bucket gives its minimum and its
  maximum. No value blob is read, so a 1,000,000-step series costs about 1,000 small rows.
  Within a bucket the order of the minimum and the maximum is not stored; they are drawn at
  the bucket's first and last step, in the order that continues the line most smoothly;
* otherwise the chunks in range are unpacked and cut into equal buckets, each giving its
  minimum and maximum at the steps where they occur (the first and last points always
  included).

NaN values stay NaN (a gap in the line); ``x_axis`` other than ``_step`` maps each point to
the x series' value at that step, or the last one before it (``epoch`` logged every few
steps works as an x axis).

>>> reader = SeriesReader(queries.reading)                      # doctest: +SKIP
>>> found = reader.read([run_pk], ["loss"], points=1000)        # doctest: +SKIP
>>> found[(run_pk, "loss")].xs[:3], found[(run_pk, "loss")].sampled  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa

from kiseki.errors import UsageError
from kiseki.store.schema import history_chunks, history_values

Connect = Callable[[], AbstractContextManager[sa.Connection]]
STEP_AXIS = "_step"
"""The x axis that is the step itself."""
DEFAULT_POINTS = 1000
"""Points per series when the caller names no number."""
MAX_POINTS = 20_000
"""The most points one series may be asked for."""
_LITTLE = np.dtype("<i8")
_FLOAT = np.dtype("<f8")


@dataclass
class Series:
    """Points of one (run, metric) series, ready to draw.

    ``steps`` are the steps of the points; ``xs`` their x values (the steps themselves on the
    ``_step`` axis); ``ys`` the values (NaN where the run logged NaN or ±inf, drawn as gaps).
    ``sampled`` says the series was downsampled; ``last_step`` is the last step the series has
    in the store (whatever range was asked), so a live chart asks for what follows it.
    """

    key: str
    steps: list[int] = field(default_factory=list)
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)
    sampled: bool = False
    last_step: int | None = None
    total: int = 0


@dataclass
class _Chunk:
    chunk_no: int
    first: int
    last: int
    count: int
    vmin: float | None
    vmax: float | None


class SeriesReader:
    """Reads chart-ready, downsampled metric series of one or more runs.

    ``connect`` opens a short read connection (``StoreQueries.reading``); every call to
    :meth:`read` uses one connection, so what it returns is one consistent snapshot.
    """

    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def numeric_keys(self, run_pks: Sequence[int]) -> dict[int, list[str]]:
        """Each run's numeric history keys (what can be charted), sorted."""
        found: dict[int, list[str]] = {pk: [] for pk in run_pks}
        if not run_pks:
            return found
        with self._connect() as conn:
            for start in range(0, len(run_pks), 500):
                batch = list(run_pks[start : start + 500])
                rows = conn.execute(
                    sa.select(history_chunks.c.run_pk, history_chunks.c.key)
                    .where(history_chunks.c.run_pk.in_(batch), history_chunks.c.chunk_no == 0)
                    .order_by(history_chunks.c.run_pk, history_chunks.c.key)
                )
                for pk, key in rows:
                    found[pk].append(key)
        return found

    def has_text_values(self, run_pk: int) -> bool:
        """Whether the run logged any non-numeric history value."""
        with self._connect() as conn:
            return (
                conn.execute(
                    sa.select(history_values.c.key)
                    .where(history_values.c.run_pk == run_pk)
                    .limit(1)
                ).first()
                is not None
            )

    def read(
        self,
        run_pks: Sequence[int],
        keys: Sequence[str],
        x_axis: str = STEP_AXIS,
        points: int = DEFAULT_POINTS,
        min_step: int | None = None,
        max_step: int | None = None,
        after_steps: dict[int, dict[str, int]] | None = None,
    ) -> dict[tuple[int, str], Series]:
        """Series of ``keys`` for each run in ``run_pks``, keyed by ``(run_pk, key)``.

        Only steps in ``[min_step, max_step]`` are read; ``after_steps[pk][key]`` (for live
        updates) reads only the steps after that one. Series that a run never logged are
        absent from the result. ``points`` (2 to :data:`MAX_POINTS`) bounds each series.
        """
        _check_points(points)
        for name, bound in (("min_step", min_step), ("max_step", max_step)):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
                raise UsageError(f"{name} must be an integer step or None, not {bound!r}.")
        keys = list(dict.fromkeys(keys))
        if not run_pks or not keys:
            return {}
        after_steps = after_steps or {}
        wanted_keys = list(keys)
        if x_axis != STEP_AXIS and x_axis not in wanted_keys:
            wanted_keys.append(x_axis)
        result: dict[tuple[int, str], Series] = {}
        with self._connect() as conn:
            layout = self._layout(conn, run_pks, wanted_keys)
            for pk in run_pks:
                for key in keys:
                    chunks = layout.get((pk, key))
                    if not chunks:
                        continue
                    lo = min_step
                    after = after_steps.get(pk, {}).get(key)
                    if after is not None:
                        lo = after + 1 if lo is None else max(lo, after + 1)
                    series = self._series(conn, pk, key, chunks, lo, max_step, points)
                    if x_axis != STEP_AXIS:
                        x_chunks = layout.get((pk, x_axis))
                        self._map_x(conn, pk, x_axis, x_chunks or [], series)
                    else:
                        series.xs = [float(s) for s in series.steps]
                    result[(pk, key)] = series
        return result

    # -- reading -----------------------------------------------------------------------------
    def _layout(
        self, conn: sa.Connection, run_pks: Sequence[int], keys: Sequence[str]
    ) -> dict[tuple[int, str], list[_Chunk]]:
        """Chunk statistics of every wanted series (no value blobs), in chunk order."""
        layout: dict[tuple[int, str], list[_Chunk]] = {}
        c = history_chunks.c
        for start in range(0, len(run_pks), 500):
            batch = list(run_pks[start : start + 500])
            rows = conn.execute(
                sa.select(
                    c.run_pk, c.key, c.chunk_no, c.first_step, c.last_step, c.count, c.vmin, c.vmax
                )
                .where(c.run_pk.in_(batch), c.key.in_(list(keys)))
                .order_by(c.run_pk, c.key, c.chunk_no)
            )
            for pk, key, chunk_no, first, last, count, vmin, vmax in rows:
                layout.setdefault((pk, key), []).append(
                    _Chunk(chunk_no, first, last, count, vmin, vmax)
                )
        return layout

    def _unpack(
        self, conn: sa.Connection, pk: int, key: str, chunks: Sequence[_Chunk]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Steps (int64) and values (float64) of ``chunks`` of one series, in step order."""
        if not chunks:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        c = history_chunks.c
        rows = conn.execute(
            sa.select(c.chunk_no, c.kind, c.steps, c.vals)
            .where(
                c.run_pk == pk,
                c.key == key,
                c.chunk_no >= chunks[0].chunk_no,
                c.chunk_no <= chunks[-1].chunk_no,
            )
            .order_by(c.chunk_no)
        ).all()
        steps = np.frombuffer(b"".join(bytes(r.steps) for r in rows), dtype=_LITTLE)
        parts = []
        for row in rows:
            dtype = _LITTLE if row.kind == "i" else _FLOAT
            parts.append(np.frombuffer(bytes(row.vals), dtype=dtype).astype(np.float64))
        values = np.concatenate(parts) if parts else np.empty(0, dtype=np.float64)
        return steps.astype(np.int64), values

    def _series(
        self,
        conn: sa.Connection,
        pk: int,
        key: str,
        chunks: list[_Chunk],
        lo: int | None,
        hi: int | None,
        points: int,
    ) -> Series:
        series = Series(key=key, last_step=chunks[-1].last)
        inside = [
            ch for ch in chunks if (lo is None or ch.last >= lo) and (hi is None or ch.first <= hi)
        ]
        if not inside:
            return series
        # chunks wholly inside the range, and the (at most two) cut by its edges
        whole = [
            ch for ch in inside if (lo is None or ch.first >= lo) and (hi is None or ch.last <= hi)
        ]
        estimate = sum(ch.count for ch in inside)
        series.total = estimate
        buckets = max(1, points // 2)
        if estimate > points and len(whole) >= buckets and len(whole) >= len(inside) - 2:
            return self._from_statistics(conn, pk, key, inside, whole, lo, hi, buckets, series)
        steps, values = self._unpack(conn, pk, key, inside)
        steps, values = _clip(steps, values, lo, hi)
        series.total = int(steps.size)
        if steps.size > points:
            keep = _minmax_indices(values, buckets)
            steps, values = steps[keep], values[keep]
            series.sampled = True
        series.steps = steps.tolist()
        series.ys = _finite_or_nan(values).tolist()
        return series

    def _from_statistics(
        self,
        conn: sa.Connection,
        pk: int,
        key: str,
        inside: list[_Chunk],
        whole: list[_Chunk],
        lo: int | None,
        hi: int | None,
        buckets: int,
        series: Series,
    ) -> Series:
        """Downsample from chunk min/max; edge chunks cut by the range are unpacked."""
        series.sampled = True
        out_steps: list[int] = []
        out_values: list[float] = []

        def add_exact(chunks: list[_Chunk]) -> None:
            steps, values = self._unpack(conn, pk, key, chunks)
            steps, values = _clip(steps, values, lo, hi)
            if steps.size == 0:
                return
            keep = _minmax_indices(values, max(1, min(steps.size // 2, 4)))
            out_steps.extend(steps[keep].tolist())
            out_values.extend(_finite_or_nan(values[keep]).tolist())

        head = [ch for ch in inside if ch.chunk_no < whole[0].chunk_no]
        tail = [ch for ch in inside if ch.chunk_no > whole[-1].chunk_no]
        add_exact(head)
        count = len(whole)
        previous = None
        for b in range(buckets):
            group = whole[b * count // buckets : (b + 1) * count // buckets]
            if not group:
                continue
            mins = [ch.vmin for ch in group if ch.vmin is not None]
            maxs = [ch.vmax for ch in group if ch.vmax is not None]
            first, last = group[0].first, group[-1].last
            if not mins:  # only NaN in these chunks: a gap
                out_steps.extend((first, last))
                out_values.extend((float("nan"), float("nan")))
                previous = None
                continue
            low, high = min(mins), max(maxs)
            # draw first whichever is nearer the line so far (the order inside is not stored)
            if previous is not None and abs(previous - high) < abs(previous - low):
                pair = (high, low)
            else:
                pair = (low, high)
            if first == last:
                out_steps.append(first)
                out_values.append(high if abs(high) >= abs(low) else low)
            else:
                out_steps.extend((first, last))
                out_values.extend(pair)
            previous = pair[1]
        add_exact(tail)
        series.steps = out_steps
        series.ys = _finite_or_nan(np.asarray(out_values, dtype=np.float64)).tolist()
        return series

    def _map_x(
        self,
        conn: sa.Connection,
        pk: int,
        x_axis: str,
        x_chunks: list[_Chunk],
        series: Series,
    ) -> None:
        """Replace the series' x values by ``x_axis``'s value at each step (or the last before)."""
        if not series.steps or not x_chunks:
            series.steps, series.xs, series.ys = [], [], []
            return
        first, last = series.steps[0], series.steps[-1]
        needed = [ch for ch in x_chunks if ch.last >= first and ch.first <= last]
        before = [ch for ch in x_chunks if ch.last < first]
        if before:
            needed = [before[-1], *needed]
        x_steps, x_values = self._unpack(conn, pk, x_axis, needed)
        if x_steps.size == 0:
            series.steps, series.xs, series.ys = [], [], []
            return
        steps = np.asarray(series.steps, dtype=np.int64)
        index = np.searchsorted(x_steps, steps, side="right") - 1
        ok = index >= 0
        xs = x_values[np.clip(index, 0, None)]
        ok &= np.isfinite(xs)
        ys = np.asarray(series.ys, dtype=np.float64)
        series.steps = steps[ok].tolist()
        series.xs = xs[ok].tolist()
        series.ys = ys[ok].tolist()


def _check_points(points: Any) -> None:
    if isinstance(points, bool) or not isinstance(points, int) or not 2 <= points <= MAX_POINTS:
        raise UsageError(
            f"points must be an integer from 2 to {MAX_POINTS} (points drawn per series), "
            f"not {points!r}."
        )


def _clip(
    steps: np.ndarray, values: np.ndarray, lo: int | None, hi: int | None
) -> tuple[np.ndarray, np.ndarray]:
    start = 0 if lo is None else int(np.searchsorted(steps, lo, side="left"))
    stop = steps.size if hi is None else int(np.searchsorted(steps, hi, side="right"))
    return steps[start:stop], values[start:stop]


def _finite_or_nan(values: np.ndarray) -> np.ndarray:
    """±inf cannot be drawn (nor sent as JSON): they become NaN, a gap."""
    return np.where(np.isfinite(values), values, np.nan)


def _minmax_indices(values: np.ndarray, buckets: int) -> np.ndarray:
    """Indices keeping each of ``buckets`` equal slices' minimum and maximum, in order.

    The first and last points are always kept. NaN is ignored unless a slice holds nothing
    else (then one NaN is kept, so the line shows the gap).

    >>> _minmax_indices(np.array([0.0, 5.0, 1.0, 2.0, -3.0, 1.0]), 2).tolist()
    [0, 1, 4, 5]
    """
    n = values.size
    if n == 0:
        return np.empty(0, dtype=np.int64)
    size = -(-n // buckets)
    rows = -(-n // size)
    padded = np.full(rows * size, np.nan)
    padded[:n] = values
    grid = padded.reshape(rows, size)
    finite = np.isfinite(grid)
    low = np.argmin(np.where(finite, grid, np.inf), axis=1)
    high = np.argmax(np.where(finite, grid, -np.inf), axis=1)
    base = np.arange(rows) * size
    picked = np.concatenate((base + low, base + high, [0, n - 1]))
    picked = picked[picked < n]
    return np.unique(picked)


def flatten_keys(keys: Iterable[str]) -> list[str]:
    """User metric keys sorted, the ``_``-prefixed ones (``_runtime``, ``_timestamp``) left out."""
    return sorted(k for k in set(keys) if not k.startswith("_"))


__all__ = [
    "DEFAULT_POINTS",
    "MAX_POINTS",
    "STEP_AXIS",
    "Series",
    "SeriesReader",
    "flatten_keys",
]
