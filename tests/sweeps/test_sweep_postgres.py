"""Sweeps on PostgreSQL: grid points are allocated exactly once by concurrent agents."""

from __future__ import annotations

import threading
from collections import Counter

from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema
from kiseki.store.queries import StoreQueries
from kiseki.sweeps.config import parse_sweep_config
from kiseki.sweeps.store import SweepStore


def test_concurrent_grid_allocation_on_postgresql(postgres_url: str) -> None:
    location = StoreLocation.parse(postgres_url)
    ensure_schema(location)
    engine = create_store_engine(location)
    store = SweepStore(StoreQueries(engine))
    config = parse_sweep_config(
        {
            "method": "grid",
            "parameters": {"a": {"values": list(range(8))}, "b": {"min": 0, "max": 4}},
        }
    )
    sweep = store.create("pg", "grid", config)
    handed: list[tuple[int, int]] = []
    lock = threading.Lock()

    def agent() -> None:
        while (answer := store.next_trial(sweep, threading.current_thread().name)).trial:
            with lock:
                handed.append((answer.trial.params["a"], answer.trial.params["b"]))

    threads = [threading.Thread(target=agent, name=f"agent-{i}") for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert Counter(handed) == Counter({(a, b): 1 for a in range(8) for b in range(5)})
    assert store.get("pg", "grid", sweep.sweep_id).state == "finished"
    assert sorted(t.grid_index for t in store.trials(sweep)) == list(range(40))
    engine.dispose()
