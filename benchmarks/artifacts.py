"""Artifact throughput: upload and download MB/s, embedded and via a ``kiseki server``.

Run: ``python benchmarks/artifacts.py [--large-mib 256] [--small-count 10000]
[--small-bytes 1024] [--workloads large,small] [--modes embedded,server]``. Two
workloads — one large file, and many small files — each logged
with ``run.log_artifact`` (upload: hashing, the local blob store, the run log and, via the
server, the streamed upload of every blob and the record; until ``finish`` returns) and
fetched with ``artifact.download()`` into an empty directory (every file verified against
its SHA-256). "embedded" uses the SQLite store under a fresh ``KISEKI_DIR``; "server" a
``kiseki server`` child process on a loopback port with its own SQLite store and blob
directory. Prints one table row per workload and mode.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB = 1000 * 1000
MiB = 1024 * 1024


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_large(root: Path, mib: int) -> int:
    """One file of ``mib`` MiB (a random 1 MiB block repeated); its size."""
    root.mkdir(parents=True)
    block = os.urandom(MiB)
    with open(root / "large.bin", "wb") as out:
        for _ in range(mib):
            out.write(block)
    return mib * MiB


def write_small(root: Path, count: int, size: int) -> int:
    """``count`` distinct files of ``size`` bytes in 100 directories; their total size."""
    for index in range(count):
        directory = root / f"d{index % 100:02d}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"f{index:05d}.bin").write_bytes(os.urandom(size))
    return count * size


def start_server(work: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """A ``kiseki server`` with one user; its process, URL and the user's API key."""
    from kiseki.httpclient import HttpClient, ServerUnavailableError
    from kiseki.store.accounts import AccountStore
    from kiseki.store.database import StoreLocation, create_store_engine, ensure_schema

    store = work / "server.db"
    location = StoreLocation.parse(str(store))
    ensure_schema(location)
    engine = create_store_engine(location)
    key = AccountStore(engine).create_user("bench")[1]
    engine.dispose()
    port = free_port()
    command = [sys.executable, "-c", "from kiseki.cli.main import main; main()", "server"]
    command += ["--db", str(store), "--port", str(port)]
    command += ["--blob-store", str(work / "server-blobs")]
    with open(work / "server.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    client = HttpClient(url, None, timeout=2.0)
    deadline = time.monotonic() + 30
    while True:
        try:
            client.request("GET", "/api/v1/version")
            break
        except ServerUnavailableError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"the server did not start: see {work / 'server.log'}") from None
            time.sleep(0.1)
    client.close()
    return process, url, key


def measure(source: Path, name: str, kiseki_dir: Path, download_root: Path) -> tuple[float, float]:
    """Seconds to log ``source`` as an artifact (until finish returns) and to download it."""
    import kiseki

    settings = {"kiseki_dir": str(kiseki_dir), "silent": True, "finish_timeout": 3600}
    started = time.perf_counter()
    run = kiseki.init(project="bench", settings=settings)
    artifact = kiseki.Artifact(name, type="dataset")
    artifact.add_dir(source)
    run.log_artifact(artifact)
    run.finish()
    uploaded = time.perf_counter() - started
    started = time.perf_counter()
    remote = "KISEKI_BASE_URL" in os.environ
    with kiseki.Api() if remote else kiseki.Api(kiseki_dir) as api:
        api.artifact(f"bench/{name}:latest").download(download_root)
    downloaded = time.perf_counter() - started
    return uploaded, downloaded


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--large-mib", type=int, default=256)
    parser.add_argument("--small-count", type=int, default=10_000)
    parser.add_argument("--small-bytes", type=int, default=1024)
    parser.add_argument("--workloads", default="large,small", help="comma-separated")
    parser.add_argument("--modes", default="embedded,server", help="comma-separated")
    args = parser.parse_args()
    workloads = [w for w in ("large", "small") if w in args.workloads.split(",")]
    modes = [m for m in ("embedded", "server") if m in args.modes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="kiseki-bench-artifacts-"))
    try:
        sizes = {}
        if "large" in workloads:
            sizes["large"] = write_large(work / "large", args.large_mib)
        if "small" in workloads:
            sizes["small"] = write_small(work / "small", args.small_count, args.small_bytes)
        labels = {
            "large": f"1 file of {args.large_mib} MiB",
            "small": f"{args.small_count:,} files of {args.small_bytes} B",
        }
        header = f"{'workload':<28} {'mode':<9} {'upload s':>9} {'MB/s':>8}"
        print(f"{header} {'download s':>11} {'MB/s':>8}")
        process, url, key = start_server(work)
        try:
            for mode in modes:
                if mode == "server":
                    os.environ["KISEKI_BASE_URL"], os.environ["KISEKI_API_KEY"] = url, key
                for workload in workloads:
                    kiseki_dir = work / f"kd-{mode}-{workload}"
                    up, down = measure(
                        work / workload, workload, kiseki_dir, work / f"dl-{mode}-{workload}"
                    )
                    size = sizes[workload]
                    print(
                        f"{labels[workload]:<28} {mode:<9} {up:>9.2f} {size / MB / up:>8.1f} "
                        f"{down:>11.2f} {size / MB / down:>8.1f}"
                    )
        finally:
            process.terminate()
            process.wait(timeout=30)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
