"""Driving the official ``wandb`` client (in its own virtual environment) against a live
kiseki server: where the environments are, the client's environment variables, and the small
scripts each test runs in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
WANDB_VERSIONS = {"0.31": "0.31.0", "0.22": "0.22.3"}
"""The pinned client versions: short name -> exact version (see scripts/test)."""
CLIENT_TIMEOUT_S = 90
HEARTBEAT_TIMEOUT_S = 6
"""The test server's heartbeat timeout: a silent (SIGKILLed) client's run ends crashed."""


def wandb_python(short: str) -> Path:
    """The python of the venv holding ``wandb==WANDB_VERSIONS[short]``; skips (fails with
    ``CI=true``) when that venv is missing."""
    python = REPO / f".venv-wandb-{short}" / "bin" / "python"
    if not python.exists():
        message = (
            f"{python.parent.parent.name} is missing: run scripts/test once (it creates it), or "
            f"python3 -m venv .venv-wandb-{short} && .venv-wandb-{short}/bin/pip install "
            f"wandb=={WANDB_VERSIONS[short]}"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return python


def client_env(base_url: str, api_key: str, wandb_dir: Path) -> dict[str, str]:
    """The environment of a client process: this server, this key, no other network."""
    wandb_dir.mkdir(parents=True, exist_ok=True)
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **keep,
        "WANDB_BASE_URL": base_url,
        "WANDB_API_KEY": api_key,
        "WANDB_ERROR_REPORTING": "false",
        "WANDB_DISABLE_GIT": "true",
        "WANDB_DIR": str(wandb_dir),
        "WANDB_CONFIG_DIR": str(wandb_dir / "config"),
        "WANDB_CACHE_DIR": str(wandb_dir / "cache"),
        "WANDB_DATA_DIR": str(wandb_dir / "data"),
        "WANDB_SILENT": "true",
        "NO_PROXY": "127.0.0.1,localhost",
    }


LOG_SCRIPT = """
import json, sys
import wandb

spec = json.loads(sys.argv[1])
run = wandb.init(
    project=spec["project"], config=spec["config"], tags=spec["tags"], notes=spec["notes"],
    group=spec["group"], mode=spec["mode"],
)
wandb.define_metric("acc", summary="max")
for i in range(spec["rows"]):
    nested = {"x": i, "y": {"z": 2 * i}}
    wandb.log({"loss": 1.0 / (i + 1), "acc": (i % 100) / 100, "nested": nested})
print("hello from the script", flush=True)
wandb.config.update(spec["config_update"])
wandb.summary["best"] = 42
wandb.summary["loss"] = -1.0
with open("notes.txt", "w") as f:
    f.write("saved by wandb.save")
wandb.save("notes.txt", policy="now")
print(json.dumps({"id": run.id, "dir": run.dir}), flush=True)
run.finish(exit_code=spec["exit_code"])
"""

HANG_SCRIPT = """
import json, sys, time
import wandb

run = wandb.init(project=sys.argv[1])
for i in range(5):
    wandb.log({"loss": float(i)})
print(json.dumps({"id": run.id}), flush=True)
time.sleep(600)
"""

ARTIFACT_SCRIPT = """
import json, os, sys
import wandb

project, root = sys.argv[1], sys.argv[2]
os.makedirs("data/sub", exist_ok=True)
with open("data/a.txt", "w") as f:
    f.write("alpha")
with open("data/sub/b.txt", "w") as f:
    f.write("beta")
ids = []
for _ in range(2):  # the same content twice: one version
    run = wandb.init(project=project, job_type="prepare")
    artifact = wandb.Artifact("dataset", type="data", description="two files")
    artifact.add_dir("data")
    run.log_artifact(artifact, aliases=["best"])
    ids.append(run.id)
    run.finish()
run = wandb.init(project=project, job_type="train")
used = run.use_artifact("dataset:best")
folder = used.download(root=root)
contents = {}
for base, _dirs, names in os.walk(folder):
    for name in names:
        path = os.path.join(base, name)
        contents[os.path.relpath(path, folder)] = open(path).read()
ids.append(run.id)
run.finish()
print(json.dumps({"ids": ids, "contents": contents, "version": used.version}))
"""

STOPPABLE_SCRIPT = """
import json, sys, time
import wandb

run = wandb.init(project=sys.argv[1])
print(json.dumps({"id": run.id}), flush=True)
started = time.monotonic()
try:
    while time.monotonic() - started < 80:
        wandb.log({"loss": 1.0})
        time.sleep(0.1)
except KeyboardInterrupt:  # how the client stops a run the server asked to stop
    print(json.dumps({"stopped_after": time.monotonic() - started}), flush=True)
    raise
"""

READ_SCRIPT = """
import json, os, sys
import wandb

path, root = sys.argv[1], sys.argv[2]
api = wandb.Api(overrides={"base_url": os.environ["WANDB_BASE_URL"]})
entity, project, run_id = path.split("/")
listed = api.runs(f"{entity}/{project}", filters={"config.lr.value": 0.01}, order="-created_at")
run = api.run(path)
files = sorted(f.name for f in run.files())
notes = run.file("notes.txt").download(root=root, replace=True)
notes.close()
print(json.dumps({
    "listed": [r.id for r in listed],
    "id": run.id, "name": run.name, "state": run.state, "tags": run.tags, "notes": run.notes,
    "group": run.group, "config": run.config, "summary": dict(run.summary),
    "history": run.history(samples=100000, pandas=False),
    "loss_history": run.history(keys=["loss"], samples=100000, pandas=False),
    "scan": list(run.scan_history(keys=["loss", "nested.x"])),
    "files": files, "notes_file": open(os.path.join(root, "notes.txt")).read(),
}, default=dict))
"""


PROGRESS_SCRIPT = """
import json, sys, time
import wandb

settings = wandb.Settings(x_file_stream_transmit_interval=0.2)
run = wandb.init(project=sys.argv[1], settings=settings)
print("before the bar", flush=True)
for i in range(1, 4):  # a tqdm-like bar: each step redraws the same line
    sys.stdout.write(f"\\rtraining {i}/3")
    sys.stdout.flush()
    wandb.log({"train": {"loss": 1.0 / i}})
    time.sleep(1.5)
sys.stdout.write("\\n")
print("after the bar", flush=True)
with open("weights.bin", "wb") as f:
    f.write(b"w" * 1000)
artifact = wandb.Artifact("model", type="model")
artifact.add_file("weights.bin")
run.log_artifact(artifact)
run.finish()
user = wandb.init(project=sys.argv[1], job_type="use")
folder = user.use_artifact("model:latest").download(root=sys.argv[2])
size = len(open(folder + "/weights.bin", "rb").read())
user.finish()
print(json.dumps({"id": run.id, "size": size}))
"""


def run_script(
    python: Path, script: str, args: list[str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` with the client's python; fails the test on a non-zero exit."""
    cwd.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [str(python), "-c", script, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, f"client failed:\n{done.stdout}\n{done.stderr}"
    return done


def start_script(
    python: Path, script: str, args: list[str], env: dict[str, str], cwd: Path
) -> tuple[subprocess.Popen[str], str]:
    """Start ``script`` with the client's python in its own process group (so a test can kill
    the client with its ``wandb-core`` helper); returns the process and the run id the script
    prints first as ``{"id": ...}``."""
    process = subprocess.Popen(
        [str(python), "-c", script, *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    try:
        run_id: str = json.loads(process.stdout.readline())["id"]
    except BaseException:
        process.kill()
        process.wait()
        process.stdout.close()
        raise
    return process, run_id


def last_json(output: str) -> dict[str, Any]:
    """The last line of ``output`` that is a JSON object."""
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            found: dict[str, Any] = json.loads(line)
            return found
    raise AssertionError(f"no JSON line in the client's output:\n{output}")
