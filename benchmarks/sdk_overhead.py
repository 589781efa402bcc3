"""SDK overhead: init, 10,000 ``log`` calls of 10 scalars, finish, then every row queryable.

Run: ``python benchmarks/sdk_overhead.py [--repeat 5]``. Each repetition runs in a fresh
subprocess with a fresh ``KISEKI_DIR`` (the store is created once by a warm-up run, as on a
user's machine after their first run), and prints one table row; the last row is the median.

Targets (2-core machine): log <= 5 us median per call, init <= 50 ms, the whole workload
(init + logs + finish, every row durable and queryable) <= 0.3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

ROWS = 10_000
KEYS = 10

WORKLOAD = textwrap.dedent(
    f"""
    import json, sqlite3, statistics, sys, time
    t0 = time.perf_counter()
    import kiseki
    t_import = time.perf_counter() - t0

    kiseki.init(project="warmup", settings={{"silent": True}}).finish(quiet=True)

    t_start = time.perf_counter()
    run = kiseki.init(
        project="bench", config={{"lr": 1e-3, "layers": 3}}, settings={{"silent": True}}
    )
    t_init = time.perf_counter() - t_start
    per_call = []
    clock = time.perf_counter_ns
    log = kiseki.log
    for step in range({ROWS}):
        row = {{f"metric_{{k}}": step * 0.001 + k for k in range({KEYS})}}
        a = clock()
        log(row)
        per_call.append(clock() - a)
    t_logs_done = time.perf_counter()
    run.finish(quiet=True)
    t_finish = time.perf_counter() - t_logs_done
    t_total = time.perf_counter() - t_start

    conn = sqlite3.connect(run.dir.rsplit("/runs/", 1)[0] + "/kiseki.db")
    rows = conn.execute(
        "SELECT history_rows, state FROM runs WHERE run_id = ?", (run.id,)
    ).fetchone()
    t_q = time.perf_counter()
    api_rows = sum(1 for _ in kiseki.Api().run(run.path).scan_history())
    t_query = time.perf_counter() - t_q
    print(json.dumps({{
        "import_ms": t_import * 1e3,
        "init_ms": t_init * 1e3,
        "log_median_us": statistics.median(per_call) / 1e3,
        "log_p99_us": sorted(per_call)[int(len(per_call) * 0.99)] / 1e3,
        "finish_ms": t_finish * 1e3,
        "total_ms": t_total * 1e3,
        "rows_stored": rows[0], "state": rows[1], "rows_read": api_rows,
        "scan_ms": t_query * 1e3,
    }}))
    """
)


def run_once() -> dict[str, float]:
    """One repetition in a fresh interpreter and a fresh KISEKI_DIR."""
    with tempfile.TemporaryDirectory() as directory:
        env = dict(os.environ, KISEKI_DIR=directory)
        result = subprocess.run(
            [sys.executable, "-c", WORKLOAD], env=env, capture_output=True, text=True, check=True
        )
        return json.loads(result.stdout.strip().splitlines()[-1])


def first_init_ms() -> float:
    """init() on a machine that never ran kiseki (creates and migrates the store)."""
    code = (
        "import time, kiseki; t=time.perf_counter(); "
        "r=kiseki.init(project='p', settings={'silent': True}); "
        "print((time.perf_counter()-t)*1e3); r.finish(quiet=True)"
    )
    with tempfile.TemporaryDirectory() as directory:
        env = dict(os.environ, KISEKI_DIR=directory)
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        return float(out.stdout.strip())


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    columns = [
        ("import_ms", "import ms"),
        ("init_ms", "init ms"),
        ("log_median_us", "log median us"),
        ("log_p99_us", "log p99 us"),
        ("finish_ms", "finish ms"),
        ("total_ms", "total ms"),
        ("rows_stored", "rows stored"),
        ("scan_ms", "scan_history ms"),
    ]
    print(f"kiseki SDK overhead: {ROWS:,} log calls x {KEYS} scalars (embedded SQLite store)")
    print(" | ".join(f"{title:>15}" for _, title in [("run", "run"), *columns]))
    results = []
    for index in range(args.repeat):
        result = run_once()
        assert result["rows_stored"] == ROWS and result["rows_read"] == ROWS, result
        assert result["state"] == "finished", result
        results.append(result)
        cells = [f"{index + 1:>15}"] + [f"{result[key]:>15.2f}" for key, _ in columns]
        print(" | ".join(cells))
    median = [f"{'median':>15}"] + [
        f"{statistics.median(r[key] for r in results):>15.2f}" for key, _ in columns
    ]
    print(" | ".join(median))
    print(f"first init on a new machine (creates the store): {first_init_ms():.1f} ms")


if __name__ == "__main__":
    main()
