"""Seeding a store with realistic runs for the web app's tests (records applied as a sink would).

``seed_workspace`` fills the project ``alice/cifar`` with runs of different states, configs,
tags and groups (one named like a script tag, to test escaping), plus the project
``alice/my-first-run``; ``LiveRun`` keeps a run ``running`` (heartbeats) and logs more rows on
demand, for live-update tests.
"""

from __future__ import annotations

import math
import random
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kiseki.runlog.records import (
    HistoryRow,
    MetadataCaptured,
    RunFinished,
    RunStarted,
    SummaryChanged,
)
from kiseki.sinks.local import LocalSink
from kiseki.store.applier import RunKey
from kiseki.store.database import StoreLocation

ENTITY = "alice"
PROJECT = "cifar"
XSS_NAME = "<script>window.__xss=1</script>bad-run"
XSS_NOTES = '<img src=x onerror="window.__xss=2">notes & more'
XSS_TAG = "<b>bold</b>"
LONG_STEPS = 50_000
LONG_SPIKE_AT = 31_337
LONG_SPIKE = 42.0

METADATA = {
    "username": "alice",
    "host": "gpu-box-01",
    "os": "Linux-6.1.0-x86_64-with-glibc2.36",
    "python": "3.11.7",
    "python_implementation": "CPython",
    "executable": "/usr/bin/python3",
    "program": "train.py",
    "args": ["--lr", "0.001"],
    "command": "python train.py --lr 0.001",
    "cwd": "/home/alice/cifar",
    "git": {
        "remote": "https://example.com/alice/cifar.git",
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "branch": "main",
        "dirty": True,
    },
    "cpu": {"model": "AMD EPYC 7763", "count_logical": 16, "count_physical": 8},
    "memory": {"total_bytes": 68719476736},
    "gpu": [{"name": "NVIDIA A100-SXM4-40GB", "memory_total_bytes": 42949672960}],
    "cuda_version": "12.4",
    "kiseki_version": "0.1.0",
}


class Seeder:
    """Applies whole runs to the embedded store in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.location = StoreLocation.in_dir(directory)
        self.sink = LocalSink(self.location)
        self._lock = threading.Lock()

    def log_run(
        self,
        run_id: str,
        *,
        project: str = PROJECT,
        name: str | None = None,
        config: dict[str, Any] | None = None,
        tags: Sequence[str] = (),
        group: str | None = None,
        job_type: str | None = "train",
        notes: str | None = None,
        created_at: float | None = None,
        rows: Sequence[dict[str, Any]] = (),
        exit_code: int | None = 0,
        summary: dict[str, Any] | None = None,
    ) -> RunKey:
        """Log a run with ``rows`` at steps 0, 1, ...; ``exit_code=None`` leaves it running."""
        key = RunKey(ENTITY, project, run_id)
        created_at = time.time() - 3600 if created_at is None else created_at
        records: list[Any] = [
            RunStarted(
                1,
                run_id,
                project,
                ENTITY,
                name or run_id,
                created_at,
                notes=notes,
                tags=list(tags),
                group=group,
                job_type=job_type,
                config=config or {},
                author="alice",
            ),
            MetadataCaptured(2, dict(METADATA)),
        ]
        last: dict[str, Any] = {}
        for step, values in enumerate(rows):
            records.append(
                HistoryRow(len(records) + 1, step, created_at + step, float(step), values)
            )
            last.update(values)
        records.append(SummaryChanged(len(records) + 1, summary or last))
        if exit_code is not None:
            records.append(
                RunFinished(len(records) + 1, exit_code, created_at + len(rows), float(len(rows)))
            )
        with self._lock:
            self.sink.apply(key, records)
        return key

    def close(self) -> None:
        """Close the store connection."""
        self.sink.close()


def training_rows(steps: int, seed: int, lr: float, spike_at: int | None = None) -> list[dict]:
    """Plausible training curves: train/loss, train/acc, val/loss (every 10 steps), lr."""
    rng = random.Random(seed)
    rows = []
    for step in range(steps):
        progress = step / max(1, steps - 1)
        loss = 2.3 * math.exp(-4 * progress * (lr / 1e-3) ** 0.3) + 0.1 + rng.gauss(0, 0.04)
        if spike_at is not None and step == spike_at:
            loss += 5.0
        row: dict[str, Any] = {
            "train/loss": loss,
            "train/acc": 0.95 * (1 - math.exp(-5 * progress)) + rng.gauss(0, 0.01),
            "lr": lr * 0.5 * (1 + math.cos(math.pi * progress)),
        }
        if step % 10 == 9:
            row["val/loss"] = loss + 0.08
            row["epoch"] = step // 10 + 1
        rows.append(row)
    return rows


def seed_workspace(directory: Path) -> Seeder:
    """Fill ``directory``'s store with the runs the web tests look at; returns the seeder."""
    seeder = Seeder(directory)
    now = time.time()
    specs = [
        ("r-adam-1", "resnet-adam-1", "resnet", "adam", 1e-3, ["baseline"], 0),
        ("r-adam-2", "resnet-adam-2", "resnet", "adam", 3e-4, ["baseline"], 0),
        ("r-sgd-1", "resnet-sgd-1", "resnet", "sgd", 1e-1, ["sgd"], 0),
        ("v-adamw-1", "vit-adamw-1", "vit", "adamw", 5e-4, ["vit", "best"], 0),
        ("v-adamw-2", "vit-adamw-2", "vit", "adamw", 1e-4, ["vit"], 0),
        ("v-adamw-3", "vit-adamw-diverged", "vit", "adamw", 5e-3, ["vit", "unstable"], 1),
    ]
    for index, (run_id, name, model, optimizer, lr, tags, code) in enumerate(specs):
        rows = training_rows(200, index, lr, spike_at=120 if run_id == "r-adam-1" else None)
        seeder.log_run(
            run_id,
            name=name,
            config={
                "model": model,
                "optimizer": {"name": optimizer, "lr": lr},
                "batch_size": 128 if model == "resnet" else 64,
                "epochs": 20,
            },
            tags=tags,
            group=model,
            notes=f"{model} with {optimizer} at lr={lr:g}",
            created_at=now - 7200 + index * 300,
            rows=rows,
            exit_code=code,
        )
    seeder.log_run(
        "xss-1",
        name=XSS_NAME,
        notes=XSS_NOTES,
        tags=[XSS_TAG],
        config={"model": "<i>cfg</i>", "optimizer": {"name": "adam", "lr": 0.01}},
        created_at=now - 5000,
        rows=training_rows(50, 9, 1e-2),
    )
    seeder.log_run(
        "crash-1",
        name="resnet-crashed",
        config={"model": "resnet", "optimizer": {"name": "adam", "lr": 2e-3}},
        group="resnet",
        created_at=now - 6000,
        rows=training_rows(80, 11, 2e-3),
        exit_code=None,
    )
    connection = sqlite3.connect(str(seeder.location.sqlite_path))
    with connection:
        connection.execute(
            "UPDATE runs SET heartbeat_at = ? WHERE run_id = 'crash-1'", (now - 5000,)
        )
    connection.close()
    seeder.log_run("first-1", project="my-first-run", name="hello", rows=[{"loss": 1.0}])
    long_rows = [{"loss": 1.0 + math.sin(i / 900) * 0.5} for i in range(LONG_STEPS)]
    long_rows[LONG_SPIKE_AT]["loss"] = LONG_SPIKE
    seeder.log_run("long-1", project="long", name="long-run", rows=long_rows)
    return seeder


class LiveRun:
    """A run kept ``running``: heartbeats every second; :meth:`log` adds rows."""

    def __init__(self, seeder: Seeder, run_id: str = "live-1", name: str = "live-run") -> None:
        self.seeder = seeder
        self.key = RunKey(ENTITY, PROJECT, run_id)
        self.seq = 0
        self.step = 0
        self.created_at = time.time() - 60
        self._stop = threading.Event()
        self._apply(
            [
                RunStarted(
                    self._next(),
                    run_id,
                    PROJECT,
                    ENTITY,
                    name,
                    self.created_at,
                    config={"model": "live", "optimizer": {"name": "adam", "lr": 1e-3}},
                    tags=["live"],
                    author="alice",
                ),
                MetadataCaptured(self._next(), dict(METADATA)),
            ]
        )
        self.log(20)
        self._thread = threading.Thread(target=self._beat, name="live-run-heartbeat", daemon=True)
        self._thread.start()

    def _next(self) -> int:
        self.seq += 1
        return self.seq

    def _apply(self, records: list[Any]) -> None:
        with self.seeder._lock:
            self.seeder.sink.apply(self.key, records)

    def log(self, count: int, value: float | None = None) -> None:
        """Log ``count`` more rows (``train/loss`` = ``value`` when given)."""
        records = []
        for _ in range(count):
            loss = value if value is not None else 1.0 / (1 + self.step)
            records.append(
                HistoryRow(
                    self._next(),
                    self.step,
                    self.created_at + self.step,
                    float(self.step),
                    {"train/loss": loss, "lr": 1e-3},
                )
            )
            self.step += 1
        self._apply(records)

    def _beat(self) -> None:
        while not self._stop.wait(1.0):
            with self.seeder._lock:
                self.seeder.sink.heartbeat(self.key)

    def finish(self, exit_code: int = 0) -> None:
        """End the run as its process would (stored as ``killed`` if a stop was requested)."""
        self.close()
        self._apply([RunFinished(self._next(), exit_code, time.time(), float(self.step))])

    def close(self) -> None:
        """Stop the heartbeats."""
        self._stop.set()
        self._thread.join(timeout=5)
