"""The cost of ``log()`` with media, in the caller's thread: scalars only (the fast path),
one image of each size, a list of 16 images, a 1,000-element array (auto-histogram) and a
100-row table.

Run: ``python benchmarks/media_log.py [--calls 200]``. Each workload logs ``--calls`` rows to
an offline run in a fresh ``KISEKI_DIR`` (offline keeps the store out of the measurement; the
images' PNG encoding, hashing and blob write happen in ``log()`` either way). Images differ at
every call (random pixels, so PNG barely compresses them: the worst case). Prints the median
and 95th percentile of one ``log()`` call, and the media bytes written to the blob store per call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def workloads(rng: np.random.Generator) -> list[tuple[str, Callable[[int], dict[str, Any]]]]:
    """``(name, make_row)`` pairs; ``make_row(i)`` builds the ``i``-th row to log."""
    import kiseki

    def image(size: int) -> Callable[[int], dict[str, Any]]:
        def make(i: int) -> dict[str, Any]:
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            return {"loss": 1.0 / (i + 1), "sample": kiseki.Image(pixels, caption=str(i))}

        return make

    def batch(i: int) -> dict[str, Any]:
        images = rng.integers(0, 256, (16, 28, 28), dtype=np.uint8)
        return {"digits": [kiseki.Image(image) for image in images]}

    def weights(i: int) -> dict[str, Any]:
        return {"weights": rng.normal(size=1000)}

    def table(i: int) -> dict[str, Any]:
        rows = [[j, f"label-{j}", float(rng.random())] for j in range(100)]
        return {"predictions": kiseki.Table(columns=["id", "label", "score"], data=rows)}

    return [
        ("scalars only (3 keys)", lambda i: {"loss": 1.0 / (i + 1), "acc": 0.5, "lr": 1e-3}),
        ("image 28x28 RGB", image(28)),
        ("image 64x64 RGB", image(64)),
        ("image 256x256 RGB", image(256)),
        ("16 images 28x28 grey", batch),
        ("array of 1,000 -> histogram", weights),
        ("table 100 rows x 3", table),
    ]


def measure(make_row: Callable[[int], dict[str, Any]], calls: int) -> tuple[list[float], int]:
    """Seconds per ``log()`` call (building the row excluded) and blob bytes written."""
    import kiseki

    with tempfile.TemporaryDirectory() as directory:
        run = kiseki.init(
            project="bench",
            mode="offline",
            settings={"kiseki_dir": directory, "silent": True},
        )
        rows = [make_row(i) for i in range(calls)]
        times = []
        for row in rows:
            started = time.perf_counter()
            run.log(row)
            times.append(time.perf_counter() - started)
        run.finish()
        blobs = os.path.join(directory, "blobs")
        written = sum(
            os.path.getsize(os.path.join(root, name))
            for root, _, names in os.walk(blobs)
            for name in names
        )
    return times, written


def main() -> None:
    """Print one table row per workload."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="log() calls per workload")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"log() in the caller's thread, {args.calls} calls per workload (offline run)")
    print(f"{'workload':<30} {'median':>12} {'p95':>12} {'blob bytes/call':>16}")
    baseline = None  # blobs every run writes (e.g. requirements.txt), measured with scalars
    for name, make_row in workloads(rng):
        times, written = measure(make_row, args.calls)
        baseline = written if baseline is None else baseline
        written -= baseline
        median = statistics.median(times) * 1e6
        p95 = sorted(times)[int(0.95 * (len(times) - 1))] * 1e6
        print(f"{name:<30} {median:>9.1f} µs {p95:>9.1f} µs {written / args.calls:>16,.0f}")


if __name__ == "__main__":
    main()
