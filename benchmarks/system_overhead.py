"""What system metrics and console capture cost the training process.

Run: ``python benchmarks/system_overhead.py [--seconds 5] [--rows 20000]``. Prints one table:

* the CPU time of one system-metrics sample (psutil, plus NVML where a driver is present),
  default fields and with per-core and process-tree fields, and what that is in % of one core
  at the default interval (15 s) -- the target is at most 0.5 %;
* the sampler thread itself, forced to sample every 50 ms for ``--seconds`` of wall time while
  the main thread sleeps: the process's CPU time (all threads) minus an idle baseline of the same
  length, per sample and scaled to the default interval;
* ``log()`` of a 10-metric row with the sampler and console capture on (defaults) and off, and
  ``print()`` of a short line with console capture on and off (into ``/dev/null``); the best
  of three runs each;
* ``log()`` of a row with one 64x64 image (PNG encoding, hashing and the blob write happen in
  the caller's thread; ``benchmarks/media_log.py`` measures more media workloads).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

DEFAULT_INTERVAL_S = 15.0


def cpu_time_of(work: Callable[[], Any], repeat: int) -> float:
    """Process CPU seconds per call of ``work``."""
    work()  # warm up (first cpu_percent call, imports)
    start = time.process_time()
    for _ in range(repeat):
        work()
    return (time.process_time() - start) / repeat


def sampler_thread_cost(seconds: float) -> tuple[float, int]:
    """CPU seconds per sample of the real sampler thread at a 50 ms interval (idle-corrected)."""
    from kiseki.sdk.system_metrics import GpuReader, SystemMetricsCollector, SystemMetricsSampler

    start = time.process_time()
    time.sleep(seconds)
    idle = time.process_time() - start
    submitted: list[Any] = []
    sampler = SystemMetricsSampler(
        submitted.append,
        0.05,
        time.time(),
        lambda: SystemMetricsCollector(gpu=GpuReader()),
    )
    start = time.process_time()
    sampler.start()
    time.sleep(seconds)
    sampler.stop()
    busy = time.process_time() - start
    samples = max(1, sampler.samples_taken)
    return max(0.0, busy - idle) / samples, sampler.samples_taken


def log_cost(rows: int, settings: dict[str, Any]) -> float:
    """Microseconds per ``log()`` of a 10-metric row."""
    import kiseki

    run = kiseki.init(project="bench-system", settings={"silent": True, **settings})
    row = {f"m{i}": 0.0 for i in range(10)}
    start = time.perf_counter()
    for step in range(rows):
        row["m0"] = float(step)
        run.log(row)
    elapsed = time.perf_counter() - start
    run.finish(quiet=True)
    return elapsed / rows * 1e6


def print_cost(lines: int, capture: bool) -> float:
    """Microseconds per ``print()`` of a short line into /dev/null, captured or not."""
    import kiseki

    saved = sys.stdout
    devnull = open(os.devnull, "w")  # noqa: SIM115 - replaced and closed below
    sys.stdout = devnull
    try:
        settings = {"silent": True, "stats_interval": 0, "console": "wrap" if capture else "off"}
        run = kiseki.init(project="bench-system", settings=settings)
        start = time.perf_counter()
        for i in range(lines):
            print(f"step {i}: loss=0.1234")
        elapsed = time.perf_counter() - start
        run.finish(quiet=True)
    finally:
        sys.stdout = saved
        devnull.close()
    return elapsed / lines * 1e6


def image_log_cost(calls: int) -> float:
    """Median microseconds per ``log()`` of a row with one 64x64 RGB image (see
    ``benchmarks/media_log.py`` for the other media workloads)."""
    import numpy as np
    from media_log import measure, workloads

    make_row = dict(workloads(np.random.default_rng(0)))["image 64x64 RGB"]
    times, _ = measure(make_row, calls)
    return statistics.median(times) * 1e6


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    os.environ["KISEKI_DIR"] = tempfile.mkdtemp(prefix="kiseki-bench-system-")

    from kiseki.sdk.system_metrics import GpuReader, SystemMetricsCollector

    gpu = GpuReader()
    gpu.start()
    plain = SystemMetricsCollector(gpu=gpu)
    full = SystemMetricsCollector(per_core=True, process_tree=True, gpu=gpu)
    rows: list[tuple[str, str, str]] = []

    def core_share(seconds_per_sample: float) -> str:
        return f"{100 * seconds_per_sample / DEFAULT_INTERVAL_S:.4f} % of one core"

    one = cpu_time_of(plain.sample, 200)
    rows.append(("one sample, default fields", f"{one * 1e3:.2f} ms CPU", core_share(one)))
    every = cpu_time_of(full.sample, 200)
    rows.append(
        ("one sample, per-core + process tree", f"{every * 1e3:.2f} ms CPU", core_share(every))
    )
    thread, taken = sampler_thread_cost(args.seconds)
    rows.append(
        (
            f"sampler thread, {taken} samples at 50 ms",
            f"{thread * 1e3:.2f} ms CPU/sample",
            core_share(thread),
        )
    )
    gpu.stop()
    on = off = captured = bare = float("inf")
    for _ in range(3):  # the best of three, alternating: other load on the machine adds noise
        on = min(on, log_cost(args.rows, {}))
        off = min(off, log_cost(args.rows, {"stats_interval": 0, "console": "off"}))
        captured = min(captured, print_cost(args.rows, True))
        bare = min(bare, print_cost(args.rows, False))
    rows.append(("log(), sampler + console on (defaults)", f"{on:.2f} us/call", ""))
    rows.append(("log(), sampler + console off", f"{off:.2f} us/call", ""))
    rows.append(("log() with one 64x64 image", f"{image_log_cost(200):.2f} us/call", ""))
    rows.append(("print(), console captured", f"{captured:.2f} us/call", ""))
    rows.append(("print(), console off", f"{bare:.2f} us/call", ""))

    print(f"GPU: {gpu.status}; default interval {DEFAULT_INTERVAL_S:g} s; target <= 0.5 %")
    width = max(len(r[0]) for r in rows)
    print(f"{'measurement':<{width}}  {'cost':>22}  at the default interval")
    for name, cost, share in rows:
        print(f"{name:<{width}}  {cost:>22}  {share}")


if __name__ == "__main__":
    main()
