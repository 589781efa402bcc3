"""Run in a child process by test_interrupted_upload.py: log an artifact of many files to the
server named by KISEKI_BASE_URL, then wait to be killed."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import kiseki


def main() -> None:
    source = Path(sys.argv[1])
    run = kiseki.init(project="killed")
    print(run.id, flush=True)
    artifact = kiseki.Artifact("chunks", type="dataset")
    artifact.add_dir(source)
    run.log_artifact(artifact)
    time.sleep(600)  # the test kills this process while the writer thread uploads


if __name__ == "__main__":
    main()
