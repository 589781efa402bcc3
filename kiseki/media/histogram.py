"""``kiseki.Histogram``: a distribution logged with ``log()``, stored inline as JSON."""

from __future__ import annotations

import math
from typing import Any

from kiseki.errors import UsageError, ValueTypeError
from kiseki.media.base import BlobWriter, Media

HISTOGRAM_JSON_TYPE = "histogram"
MAX_BINS = 512


class Histogram(Media):
    """A histogram of values: counts per bin, with ``len(bins) == len(values) + 1`` edges.

    Give a sequence (list, NumPy array, PyTorch tensor) to bin into ``num_bins`` equal bins,
    or ``np_histogram=(counts, edges)`` as returned by ``numpy.histogram``. NumPy and PyTorch
    arrays of more than 32 elements passed to ``log()`` become histograms on their own.

    >>> Histogram(np_histogram=([2, 1], [0.0, 0.5, 1.0])).bins
    [0.0, 0.5, 1.0]
    """

    json_type = HISTOGRAM_JSON_TYPE

    def __init__(
        self,
        sequence: Any = None,
        np_histogram: tuple[Any, Any] | None = None,
        num_bins: int = 64,
    ) -> None:
        if np_histogram is not None:
            if sequence is not None:
                raise UsageError("kiseki.Histogram takes a sequence or np_histogram=, not both.")
            self.values, self.bins = _from_np_histogram(np_histogram)
        elif sequence is None:
            raise UsageError(
                "kiseki.Histogram needs values: pass a sequence, or np_histogram=(counts, edges)."
            )
        else:
            self.values, self.bins = _binned(sequence, num_bins)

    @property
    def histogram(self) -> list[Any]:
        """The counts per bin (wandb's name for :attr:`values`)."""
        return self.values

    @classmethod
    def from_json(cls, ref: dict[str, Any]) -> Histogram:
        """A histogram read back from its history value."""
        histogram = cls.__new__(cls)
        histogram._reference = dict(ref)
        histogram.values = list(ref.get("values") or [])
        histogram.bins = list(ref.get("bins") or [])
        return histogram

    def to_json(self, blobs: BlobWriter | None, digests: list[str]) -> dict[str, Any]:
        """``{"_type": "histogram", "bins": [edges], "values": [counts]}`` (no blob)."""
        return {"_type": HISTOGRAM_JSON_TYPE, "bins": self.bins, "values": self.values}

    def __repr__(self) -> str:
        if not self.bins:
            return "<kiseki.Histogram empty>"
        return (
            f"<kiseki.Histogram {len(self.values)} bins from {self.bins[0]:g} "
            f"to {self.bins[-1]:g}, {sum(self.values):g} values>"
        )


def _binned(sequence: Any, num_bins: int) -> tuple[list[Any], list[float]]:
    import numpy as np

    if isinstance(num_bins, bool) or not isinstance(num_bins, int):
        raise ValueTypeError(f"kiseki.Histogram num_bins must be an int, got {num_bins!r}.")
    if not 1 <= num_bins <= MAX_BINS:
        raise UsageError(
            f"kiseki.Histogram num_bins must be between 1 and {MAX_BINS}, got {num_bins}."
        )
    if type(sequence).__module__.partition(".")[0] == "torch":
        sequence = sequence.detach().cpu().float().numpy()
    try:
        array = np.asarray(sequence, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise ValueTypeError(
            f"kiseki.Histogram needs numbers, got a {type(sequence).__name__} holding values "
            "that are not numbers."
        ) from None
    array = array[np.isfinite(array)]  # NaN and infinities have no bin
    if array.size == 0:
        raise UsageError(
            "kiseki.Histogram got no finite values to bin: pass a non-empty sequence of numbers."
        )
    counts, edges = np.histogram(array, bins=num_bins)
    return [int(c) for c in counts], [float(e) for e in edges]


def _from_np_histogram(pair: Any) -> tuple[list[Any], list[float]]:
    try:
        counts, edges = pair
        values = [_number(c, "counts") for c in counts]
        bins = [float(_number(e, "edges")) for e in edges]
    except (TypeError, ValueError) as exc:
        raise ValueTypeError(
            "kiseki.Histogram np_histogram must be a pair (counts, edges) of number sequences, "
            f"as numpy.histogram returns: {exc}"
        ) from None
    if not values:
        raise UsageError("kiseki.Histogram np_histogram has no counts.")
    if len(bins) != len(values) + 1:
        raise UsageError(
            f"kiseki.Histogram np_histogram has {len(values)} counts and {len(bins)} edges: "
            "there must be one edge more than counts."
        )
    if any(b > a for a, b in zip(bins[1:], bins[:-1], strict=True)):
        raise UsageError("kiseki.Histogram np_histogram edges must be in increasing order.")
    return values, bins


def _number(value: Any, what: str) -> Any:
    number = value.item() if hasattr(value, "item") else value
    if isinstance(number, bool) or not isinstance(number, int | float):
        raise ValueError(f"{what} holds {number!r}, which is not a number")
    if isinstance(number, float):
        if not math.isfinite(number):
            raise ValueError(f"{what} holds {number!r}; every value must be finite")
        if what == "counts" and number.is_integer():
            return int(number)
    return number
