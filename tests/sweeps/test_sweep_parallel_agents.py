"""Grid coverage is exact with 3 agents in parallel processes sharing the embedded store."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import kiseki
from kiseki.settings import resolve_settings
from kiseki.sweeps.client import EmbeddedSweeps

AGENT_SCRIPT = """
import sys, time, kiseki

def train():
    run = kiseki.init()
    time.sleep(0.05)  # long enough that every agent gets work
    run.log({"score": run.config.a * 10 + run.config.b})

report = kiseki.agent(sys.argv[1], function=train)
print(report.trials)
"""


@pytest.mark.slow
def test_three_agent_processes_cover_the_grid_exactly_once(kiseki_dir: Path) -> None:
    sweep_id = kiseki.sweep(
        {
            "method": "grid",
            "metric": {"name": "score", "goal": "maximize"},
            "parameters": {"a": {"values": list(range(6))}, "b": {"values": list(range(5))}},
        },
        project="parallel-grid",
    )
    agents = [
        subprocess.Popen(
            [sys.executable, "-c", AGENT_SCRIPT, f"parallel-grid/{sweep_id}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    counts = []
    for process in agents:
        out, _ = process.communicate(timeout=100)
        assert process.returncode == 0
        counts.append(int(out.strip().splitlines()[-1]))
    assert sum(counts) == 30

    client = EmbeddedSweeps(resolve_settings())
    try:
        (record,) = client.find(sweep_id)
        trials = client.trials(record)
        agents_seen = {t.agent for t in trials}
    finally:
        client.close()
    points = Counter((t.params["a"], t.params["b"]) for t in trials)
    assert points == Counter({(a, b): 1 for a in range(6) for b in range(5)})
    assert sorted(t.grid_index for t in trials) == list(range(30))
    assert len(agents_seen) >= 2  # the work really was shared
    runs = kiseki.Api().runs("parallel-grid")
    assert len(runs) == 30 and {r.state for r in runs} == {"finished"}
    assert sorted((r.config["a"], r.config["b"]) for r in runs) == sorted(points)
    assert kiseki.Api().sweep(f"parallel-grid/{sweep_id}").best_run().config == {"a": 5, "b": 4}
