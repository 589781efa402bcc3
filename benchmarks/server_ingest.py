"""Server ingest throughput: N concurrent simulated runs logging 10 scalars per step.

Starts ``kiseki server`` on a free loopback port (SQLite, then PostgreSQL when one answers on
127.0.0.1:5432), creates a user, and lets N simulated runs (N = 1, 10, 100; one thread each)
post their rows as a training process's sender thread would: a ``RunStarted`` record, then
batches of ``--batch`` history rows, gzip-compressed, each request waiting for the server's
acknowledgement. A row is counted once the server has acknowledged it, which it does only
after the transaction holding it committed (durable and queryable); at the end every run's
row count is read back through the API and checked.

The payloads are encoded before the clock starts: on a real deployment the training
processes encode on their own machines, and here the clients share the server's two cores.

Target (2-core machine): >= 50,000 rows/s (500,000 values/s) with SQLite at N = 10.
Run: ``python benchmarks/server_ingest.py [--rows 200000] [--batch 1000] [--workers 1]``.

Measured on the 2-core development VM (one server process; figures vary by about +-20 % from
run to run with the neighbours' load):

=========== ==== ================ ==================
store          N rows/s           values/s
=========== ==== ================ ==================
SQLite         1 55,000-77,000    550,000-770,000
SQLite        10 50,000-74,000    500,000-740,000
SQLite       100 53,000-61,000    530,000-610,000
PostgreSQL     1 39,000-47,000    390,000-470,000
PostgreSQL    10 33,000-51,000    330,000-510,000
PostgreSQL   100 31,000-40,000    310,000-400,000
=========== ==== ================ ==================

Per 1,000-row request the server spends about 0.6 ms in gunzip, 1.5 ms parsing JSON, 2 ms
checking the records and 6 ms applying them (of which the SQLite transaction about 3 ms).
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from kiseki import jsoncodec
from kiseki.httpclient import HttpClient, ServerUnavailableError

KEYS = 10
POSTGRES_ADMIN = os.environ.get(
    "KISEKI_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_user(store: str) -> str:
    """Create the benchmark's user in ``store``; returns its API key."""
    from kiseki.store.accounts import AccountStore
    from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema

    location = StoreLocation.parse(store)
    ensure_schema(location)
    engine = create_store_engine(location)
    try:
        return AccountStore(engine).create_user("bench")[1]
    finally:
        engine.dispose()


class Server:
    """``kiseki server`` in a child process."""

    def __init__(self, store: str, workers: int, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-c",
            "from kiseki.cli.main import main; main()",
            "server",
            "--db",
            store,
            "--port",
            str(self.port),
            "--workers",
            str(workers),
        ]
        self.log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        client = HttpClient(self.url, None, timeout=2)
        deadline = time.monotonic() + 60
        while True:
            try:
                client.request("GET", "/api/v1/version")
                break
            except ServerUnavailableError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"kiseki server did not start; see {log_path}") from None
                time.sleep(0.1)
        client.close()

    def stop(self) -> None:
        """SIGTERM and wait."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        self.log.close()


def encode_payloads(rows: int, batch: int) -> list[bytes]:
    """The gzip bodies of one run's history batches (shared by every simulated run: each
    run's path differs, the records need not)."""
    payloads = []
    now = time.time()
    for start in range(0, rows, batch):
        records = [
            {
                "type": 2,
                "seq": step + 2,
                "step": step,
                "timestamp": now + step * 0.01,
                "runtime": step * 0.01,
                "values": {f"metric_{k}": step * 0.001 + k for k in range(KEYS)},
            }
            for step in range(start, min(rows, start + batch))
        ]
        payloads.append(gzip.compress(jsoncodec.dumps_bytes({"records": records}), 1))
    return payloads


def start_payload(run_id: str) -> bytes:
    """The body holding a run's ``RunStarted`` record."""
    record = {
        "type": 1,
        "seq": 1,
        "run_id": run_id,
        "project": "bench",
        "entity": "bench",
        "name": run_id,
        "created_at": time.time(),
        "config": {"lr": 0.001},
    }
    return gzip.compress(jsoncodec.dumps_bytes({"records": [record]}), 1)


def post(client: HttpClient, path: str, payload: bytes) -> Any:
    """POST an already-encoded gzip body."""
    import http.client

    connection = client._connect()
    headers = {
        "Authorization": f"Bearer {client.api_key}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    connection.request("POST", path, body=payload, headers=headers)
    response = connection.getresponse()
    data = response.read()
    if response.status != 200:
        raise SystemExit(f"POST {path} failed ({response.status}): {data[:300]!r}")
    assert isinstance(connection, http.client.HTTPConnection)
    return jsoncodec.loads(data)


def measure(store: str, label: str, runs: int, rows: int, batch: int, workers: int) -> dict:
    """Time ``runs`` concurrent runs of ``rows`` rows each against a fresh server."""
    key = create_user(store)
    log_path = Path(tempfile.gettempdir()) / f"kiseki-bench-{uuid.uuid4().hex[:8]}.log"
    server = Server(store, workers, log_path)
    payloads = encode_payloads(rows, batch)
    barrier = threading.Barrier(runs + 1)
    failures: list[BaseException] = []

    def simulate(number: int) -> None:
        client = HttpClient(server.url, key, timeout=120)
        run_id = f"run{number:03d}"
        path = f"/api/v1/runs/bench/bench/{run_id}/records"
        try:
            barrier.wait()
            post(client, path, start_payload(run_id))
            for payload in payloads:
                post(client, path, payload)
        except BaseException as exc:
            failures.append(exc)
        finally:
            client.close()

    threads = [threading.Thread(target=simulate, args=(n,)) for n in range(runs)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        server.stop()
        raise SystemExit(f"{label}: a simulated run failed: {failures[0]}")
    client = HttpClient(server.url, key)
    stored = sum(
        client.request("GET", f"/api/v1/runs/bench/bench/run{n:03d}").data["history_rows"]
        for n in range(runs)
    )
    client.close()
    server.stop()
    total = runs * rows
    if stored != total:
        raise SystemExit(f"{label}: {stored} rows stored, {total} sent")
    return {"store": label, "runs": runs, "rows": total, "seconds": elapsed}


def postgres_database() -> str | None:
    """A fresh PostgreSQL database for one measurement, or ``None`` when none answers."""
    try:
        import psycopg
    except ImportError:
        return None
    name = f"kiseki_bench_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(POSTGRES_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError:
        return None
    return f"{POSTGRES_ADMIN.rsplit('/', 1)[0]}/{name}"


def drop_postgres(url: str) -> None:
    """Drop a database made by :func:`postgres_database`."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    """Measure every (store, N) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows per measurement")
    parser.add_argument("--batch", type=int, default=1000, help="rows per request")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--runs", type=int, nargs="*", default=[1, 10, 100])
    parser.add_argument("--stores", nargs="*", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    results = []
    for label in args.stores:
        for runs in args.runs:
            rows = max(args.batch, args.rows // runs)
            if label == "sqlite":
                directory = Path(tempfile.mkdtemp(prefix="kiseki-bench-"))
                store = str(directory / "kiseki.db")
                try:
                    results.append(measure(store, label, runs, rows, args.batch, args.workers))
                finally:
                    shutil.rmtree(directory, ignore_errors=True)
            else:
                url = postgres_database()
                if url is None:
                    print("PostgreSQL: none answers on 127.0.0.1:5432, skipped", file=sys.stderr)
                    break
                try:
                    results.append(measure(url, label, runs, rows, args.batch, args.workers))
                finally:
                    drop_postgres(url)
            last = results[-1]
            print(
                f"  {label} N={runs}: {last['rows'] / last['seconds']:,.0f} rows/s",
                file=sys.stderr,
            )
    print(
        f"\nkiseki server ingest: {KEYS} scalars per row, {args.batch} rows per request, "
        f"{args.workers} server process(es), {os.cpu_count()} CPU cores\n"
    )
    print(f"{'store':<11} {'N':>4} {'rows':>9} {'seconds':>8} {'rows/s':>10} {'values/s':>11}")
    for r in results:
        rate = r["rows"] / r["seconds"]
        print(
            f"{r['store']:<11} {r['runs']:>4} {r['rows']:>9,} {r['seconds']:>8.2f} "
            f"{rate:>10,.0f} {rate * KEYS:>11,.0f}"
        )


if __name__ == "__main__":
    main()
