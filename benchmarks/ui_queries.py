"""Server time of the web app's heaviest queries, on a project of 1,000 runs and a 1M-step run.

Seeds (once, into ``--dir``; reused when it is already there) a project ``bench/ui`` holding
1,000 runs, 100 of which logged 10,000 steps of ``loss`` (the others 100 steps), and one run
of 1,000,000 steps with a spike every 100,003 steps. Then times, through the app in-process
(routing, service, store, JSON: everything but the network), the median of several calls:

* the workspace's runs list (all 1,001 runs, with their config and summary),
* a chart of 100 runs x 10,000 steps (``loss``, 1,000 points per run),
* the 1,000,000-step chart (1,000 points; also with ``_runtime`` as the x axis),
* the full runs table of a second project, ``bench/table``: 1,000 runs with 40 config and
  10 summary values each (50 columns), sorted by a config column,
* saving and loading a workspace state that hides 500 runs and colours 200.

Targets (2-core machine): each <= 300 ms. Run: ``python benchmarks/ui_queries.py``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from kiseki.runlog.records import HistoryRow, RunFinished, RunStarted, SummaryChanged
from kiseki.sinks.local import LocalSink
from kiseki.store.applier import RunKey
from kiseki.store.database import StoreLocation

ENTITY, PROJECT = "bench", "ui"
BIG_RUN = "big"
BATCH = 20_000
TARGET_MS = 300.0


def log_run(sink: LocalSink, run_id: str, steps: int, index: int, spikes: bool = False) -> None:
    """Log one run of ``steps`` rows of ``loss`` (and a config and summary to filter on)."""
    key = RunKey(ENTITY, PROJECT, run_id)
    created = 1_700_000_000.0 + index * 60
    config = {"lr": 10 ** -(1 + index % 4), "model": ("resnet", "vit")[index % 2], "seed": index}
    records: list = [RunStarted(1, run_id, PROJECT, ENTITY, f"run-{index}", created, config=config)]
    seq = 1
    loss = 0.0
    for step in range(steps):
        seq += 1
        loss = 2.0 * math.exp(-step / (steps / 4 + 1)) + 0.05 * math.sin(step * 0.7 + index)
        if spikes and step % 100_003 == 50_000:
            loss += 40.0
        records.append(HistoryRow(seq, step, created + step * 0.01, step * 0.01, {"loss": loss}))
        if len(records) >= BATCH:
            sink.apply(key, records)
            records = []
    records.append(SummaryChanged(seq + 1, {"loss": loss, "acc": 1 - loss / 3}))
    records.append(RunFinished(seq + 2, 0, created + steps * 0.01, steps * 0.01))
    sink.apply(key, records)


TABLE_PROJECT = "table"
TABLE_CONFIG_KEYS = 40
TABLE_SUMMARY_KEYS = 10


def seed_table(directory: Path, runs: int) -> None:
    """Fill ``bench/table`` with ``runs`` runs of 40 config and 10 summary values (no history)."""
    marker = directory / f"seeded-table-{runs}"
    if marker.exists():
        return
    sink = LocalSink(StoreLocation.in_dir(directory))
    for index in range(runs):
        config = {f"param_{k:02d}": (index * (k + 1)) % 97 / 7 for k in range(TABLE_CONFIG_KEYS)}
        config["model"] = ("resnet", "vit", "mlp")[index % 3]
        summary = {f"metric_{k}": math.sin(index + k) for k in range(TABLE_SUMMARY_KEYS)}
        started = RunStarted(
            1, f"t-{index:04d}", TABLE_PROJECT, ENTITY, f"table-run-{index}",
            1_700_000_000.0 + index, config=config, group=config["model"],
        )  # fmt: skip
        records = [started, SummaryChanged(2, summary), RunFinished(3, 0, 1_700_000_100.0, 100.0)]
        sink.apply(RunKey(ENTITY, TABLE_PROJECT, f"t-{index:04d}"), records)
    sink.close()
    marker.touch()


def seed(directory: Path, runs: int, long_runs: int, long_steps: int, big_steps: int) -> None:
    """Fill the store in ``directory`` unless it already holds the benchmark project."""
    location = StoreLocation.in_dir(directory)
    marker = directory / f"seeded-{runs}-{long_runs}-{long_steps}-{big_steps}"
    if marker.exists():
        return
    sink = LocalSink(location)
    started = time.perf_counter()
    for index in range(runs):
        steps = long_steps if index < long_runs else 100
        log_run(sink, f"run-{index:04d}", steps, index)
    log_run(sink, BIG_RUN, big_steps, runs, spikes=True)
    sink.close()
    marker.touch()
    print(f"seeded {runs + 1} runs in {time.perf_counter() - started:.0f} s")


def timed(call: object, repeat: int) -> tuple[float, object]:
    """Median milliseconds of ``repeat`` calls (after one warm-up) and the last answer."""
    answer = call()  # type: ignore[operator]
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = call()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), answer


def main() -> None:
    """Seed, time, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=None, help="kiseki dir to seed and reuse")
    parser.add_argument("--runs", type=int, default=1_000)
    parser.add_argument("--long-runs", type=int, default=100)
    parser.add_argument("--long-steps", type=int, default=10_000)
    parser.add_argument("--big-steps", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.gettempdir()) / "kiseki-bench-ui"
    directory.mkdir(parents=True, exist_ok=True)
    seed(directory, args.runs, args.long_runs, args.long_steps, args.big_steps)
    seed_table(directory, args.runs)

    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

    from kiseki.server.app import create_local_app

    base = f"/web-api/projects/{ENTITY}/{PROJECT}"
    table = f"/web-api/projects/{ENTITY}/{TABLE_PROJECT}"
    long_ids = [f"run-{i:04d}" for i in range(args.long_runs)]
    saved = {
        "hidden": [f"t-{i:04d}" for i in range(0, args.runs, 2)],
        "colors": {f"t-{i:04d}": "#be185d" for i in range(200)},
        "table": True,
        "columns": [f"config.param_{k:02d}" for k in range(TABLE_CONFIG_KEYS)],
    }
    cases = [
        ("runs list (all runs, config + summary)", "runs", {"order": "-created_at"}),
        (
            f"chart: {args.long_runs} runs x {args.long_steps:,} steps",
            "series",
            {"runs": long_ids, "keys": ["loss"], "points": 1000},
        ),
        (
            f"chart: 1 run x {args.big_steps:,} steps",
            "series",
            {"runs": [BIG_RUN], "keys": ["loss"], "points": 1000},
        ),
        (
            f"chart: 1 run x {args.big_steps:,} steps, x = _runtime",
            "series",
            {"runs": [BIG_RUN], "keys": ["loss"], "points": 1000, "x": "_runtime"},
        ),
        (
            f"runs table: {args.runs:,} runs x 50 columns",
            f"{table}/runs",
            {"order": "+config.param_03"},
        ),
        ("workspace state: save (PUT)", f"{table}/state", {"state": saved}),
        ("workspace state: load (GET)", f"{table}/state", None),
    ]
    print(f"{'query':<48} {'median ms':>10} {'target':>8}  result")
    with TestClient(create_local_app(directory)) as http:
        for label, path, body in cases:

            def call(path: str = path, body: dict | None = body) -> dict:
                url = path if path.startswith("/") else f"{base}/{path}"
                if path.endswith("/state"):
                    headers = {"X-Kiseki-Web": "1"}
                    response = (
                        http.get(url) if body is None else http.put(url, json=body, headers=headers)
                    )
                else:
                    response = http.post(url, json=body)
                response.raise_for_status()
                return response.json()  # type: ignore[no-any-return]

            ms, answer = timed(call, args.repeat)
            assert isinstance(answer, dict)
            if path.endswith("runs"):
                columns = sum(len(answer["runs"][0][part]) for part in ("config", "summary"))
                detail = f"{answer['matched']} runs, {columns} config + summary columns"
            elif path.endswith("/state"):
                detail = "saved" if "saved_at" in answer and body else "loaded"
            else:
                points = sum(len(s["x"]) for s in answer["series"])
                peak = max(max(s["y"]) for s in answer["series"])
                detail = f"{len(answer['series'])} series, {points:,} points, max {peak:.1f}"
            verdict = "ok" if ms <= TARGET_MS else "SLOW"
            print(f"{label:<48} {ms:>10.1f} {TARGET_MS:>7.0f}  {verdict}: {detail}")


if __name__ == "__main__":
    main()
