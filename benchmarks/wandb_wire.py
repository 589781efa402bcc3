"""Ingest through the W&B-compatible endpoint: N concurrent official ``wandb`` clients.

Starts ``kiseki server`` on a free loopback port (SQLite), creates a user, and runs N copies
of the real ``wandb`` client (from ``.venv-wandb-0.31``, see ``scripts/test``), each logging
``--rows`` history rows of 10 scalars and finishing. The clock runs from the first client's
start to the last client's exit (the client flushes everything before it exits); every run's
row count is then read back from the store and checked. The server's peak resident memory is
sampled every 50 ms (psutil), and its CPU time is printed: when it is a small part of the
wall time, the clients (each a Python process and a ``wandb-core`` process), not the server,
set the pace.

Measured on the 2-core development VM, shared with other jobs (wandb 0.31, SQLite):

======= =========== ======= ====== ============ ===============
clients rows/client seconds rows/s server CPU s server peak MiB
======= =========== ======= ====== ============ ===============
     10      10,000    46.6  2,148          3.2             198
======= =========== ======= ====== ============ ===============

Run: ``python benchmarks/wandb_wire.py [--clients 10] [--rows 10000] [--version 0.31]``.
The clients share the machine's cores with the server, as they would not in production; the
figure is a lower bound of what one server process ingests.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "server"))

from live_server import LiveServer  # noqa: E402

from kiseki.store.accounts import AccountStore  # noqa: E402
from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema  # noqa: E402
from kiseki.store.queries import StoreQueries  # noqa: E402

CLIENT = """
import sys
import wandb

rows = int(sys.argv[2])
run = wandb.init(project="wire-bench", name=sys.argv[1])
for i in range(rows):
    wandb.log({f"m{k}": i * 10 + k for k in range(10)})
run.finish()
"""


def peak_rss(pid: int, stop: threading.Event, peak: list[int]) -> None:
    """Keep the largest RSS of ``pid`` (and its children) in ``peak[0]`` until ``stop``."""
    process = psutil.Process(pid)
    while not stop.is_set():
        try:
            rss = process.memory_info().rss + sum(
                c.memory_info().rss for c in process.children(recursive=True)
            )
        except psutil.Error:
            break
        peak[0] = max(peak[0], rss)
        time.sleep(0.05)


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--version", default="0.31", help="which .venv-wandb-<version>")
    args = parser.parse_args()
    python = REPO / f".venv-wandb-{args.version}" / "bin" / "python"
    if not python.exists():
        sys.exit(f"{python} is missing: run scripts/test once (it creates the wandb venvs).")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = str(root / "server.db")
        location = StoreLocation.parse(store)
        ensure_schema(location)
        engine = create_store_engine(location)
        key = AccountStore(engine).create_user("bench")[1]
        server = LiveServer(store, root).start()
        assert server.process is not None
        stop, peak = threading.Event(), [0]
        sampler = threading.Thread(target=peak_rss, args=(server.process.pid, stop, peak))
        sampler.start()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(root),
            "WANDB_BASE_URL": server.url,
            "WANDB_API_KEY": key,
            "WANDB_ERROR_REPORTING": "false",
            "WANDB_DISABLE_GIT": "true",
            "WANDB_DIR": str(root),
            "WANDB_SILENT": "true",
        }
        started = time.perf_counter()
        clients = [
            subprocess.Popen(
                [str(python), "-c", CLIENT, f"client-{i}", str(args.rows)],
                env=env,
                cwd=root,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for i in range(args.clients)
        ]
        failures = [c.stderr.read().decode() for c in clients if c.wait() != 0 and c.stderr]
        elapsed = time.perf_counter() - started
        for client in clients:
            if client.stderr is not None:
                client.stderr.close()
        stop.set()
        sampler.join()
        cpu = psutil.Process(server.process.pid).cpu_times()
        server_cpu = cpu.user + cpu.system
        counts = [r.history_rows for r in StoreQueries(engine).runs("bench", "wire-bench")]
        server.stop()
        engine.dispose()
    if failures:
        sys.exit("a client failed:\n" + failures[0])
    total = sum(counts)
    expected = args.clients * args.rows
    if total != expected:
        sys.exit(f"the server holds {total} rows, not {expected}: rows were lost")
    header = ("clients", "rows/client", "seconds", "rows/s", "server CPU s", "server peak MiB")
    print(
        f"{header[0]:>8} {header[1]:>12} {header[2]:>8} {header[3]:>10} {header[4]:>13} "
        f"{header[5]:>16}"
    )
    print(
        f"{args.clients:>8} {args.rows:>12,} {elapsed:>8.1f} {total / elapsed:>10,.0f} "
        f"{server_cpu:>13.1f} {peak[0] / 2**20:>16.0f}"
    )


if __name__ == "__main__":
    main()
