"""Sweep controller: how long handing out the next trial takes with 1,000 finished trials.

Run: ``python benchmarks/sweeps.py [--trials 1000] [--repeat 7]``. For each search method a
sweep is created in a fresh embedded store and given ``--trials`` finished trials (with their
parameters, Optuna's internal values and a metric), then ``next_trial`` is timed ``--repeat``
times: the whole path an agent's request takes (read the sweep and its trials, suggest, and
allocate the trial in a write transaction). Prints one table row per method.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema
from kiseki.store.queries import StoreQueries
from kiseki.store.schema import sweep_trials
from kiseki.sweeps.config import nest_params, parse_sweep_config
from kiseki.sweeps.store import SweepStore

PARAMETERS: dict[str, Any] = {
    "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
    "momentum": {"min": 0.0, "max": 0.99},
    "batch": {"values": [16, 32, 64, 128]},
    "layers": {"min": 1, "max": 8},
}
GRID_PARAMETERS: dict[str, Any] = {
    "lr": {"values": [10.0**-k for k in range(1, 12)]},
    "batch": {"values": list(range(10))},
    "layers": {"values": list(range(10))},
}


def seed_trials(store: SweepStore, method: str, count: int) -> Any:
    """A sweep of ``method`` with ``count`` finished trials."""
    spec = {
        "method": method,
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": GRID_PARAMETERS if method == "grid" else PARAMETERS,
    }
    config = parse_sweep_config(spec)
    sweep = store.create("bench", f"sweeps-{method}", config)
    rng = np.random.default_rng(0)
    now = time.time()
    rows = []
    for number in range(1, count + 1):
        internal: dict[str, Any] = {}
        chosen = {}
        for path, parameter in config.parameters.items():
            key = ".".join(path)
            if method == "grid":
                continue
            distribution = parameter.optuna_distribution()
            if hasattr(distribution, "choices"):
                internal[key] = int(rng.integers(len(distribution.choices)))
            elif hasattr(distribution, "step") and distribution.step == 1:
                internal[key] = int(rng.integers(distribution.low, distribution.high + 1))
            else:
                internal[key] = float(rng.random())
            chosen[path] = parameter.from_internal(internal[key])
        if method == "grid":
            from kiseki.sweeps.search import grid_suggestion

            params = grid_suggestion(config, number - 1).params
        else:
            params = nest_params(chosen)
        loss = math.log10(float(params["lr"])) ** 2 + rng.normal(0, 0.1)
        rows.append(
            {
                "sweep_pk": sweep.pk,
                "trial_no": number,
                "run_id": f"r{number:07d}",
                "params": params,
                "suggestion": internal,
                "grid_index": number - 1 if method == "grid" else None,
                "state": "finished",
                "exit_code": 0,
                "metric_value": float(loss),
                "created_at": now,
                "updated_at": now,
            }
        )
    with store.queries.writing() as conn:
        conn.execute(sweep_trials.insert(), rows)
    return sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        location = StoreLocation.in_dir(Path(directory))
        ensure_schema(location)
        engine = create_store_engine(location)
        store = SweepStore(StoreQueries(engine))
        print(f"next_trial latency with {args.trials} finished trials (embedded SQLite)")
        print(f"{'method':<8} {'median ms':>10} {'min ms':>8} {'max ms':>8}")
        for method in ("grid", "random", "bayes"):
            sweep = seed_trials(store, method, args.trials)
            times = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                answer = store.next_trial(sweep, "bench")
                times.append((time.perf_counter() - started) * 1000)
                assert answer.trial is not None, answer.reason
            print(
                f"{method:<8} {statistics.median(times):>10.1f} {min(times):>8.1f} "
                f"{max(times):>8.1f}"
            )
        engine.dispose()


if __name__ == "__main__":
    main()
