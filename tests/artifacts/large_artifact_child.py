"""Run in a child process by test_large_artifact.py: log a large artifact to the server named
by KISEKI_BASE_URL, download it again, and print the process's peak RSS in bytes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import kiseki

MiB = 1024 * 1024


def write_large_file(path: Path, size_mib: int) -> None:
    """``size_mib`` MiB of one random 1 MiB block repeated (real, non-zero content)."""
    block = os.urandom(MiB)
    with open(path, "wb") as out:
        for _ in range(size_mib):
            out.write(block)


def peak_rss() -> int:
    """This process's peak resident set size in bytes: ``VmHWM`` of its own memory map (not
    ``ru_maxrss``, which Linux carries over from the forking parent across ``exec``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> None:
    work, size_mib = Path(sys.argv[1]), int(sys.argv[2])
    source = work / "large.bin"
    write_large_file(source, size_mib)
    run = kiseki.init(project="large", settings={"finish_timeout": 600})
    artifact = kiseki.Artifact("large", type="model")
    artifact.add_file(source)
    run.log_artifact(artifact)
    run.finish()
    stored = kiseki.Api().artifact("large/large:latest")
    target = Path(stored.download(work / "download"))
    stored.verify(target)
    assert (target / "large.bin").stat().st_size == size_mib * MiB
    print(peak_rss())


if __name__ == "__main__":
    main()
