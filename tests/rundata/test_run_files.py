"""``run.save()`` / ``kiseki.save()``: policies now, live and end; names relative to a base;
the blob store and ``run_blobs``; ``requirements.txt`` and the script's code saved by
themselves; reading files back with ``Api().run().files()`` and ``file().download()``."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import kiseki
from kiseki.blobs import local_blob_store
from kiseki.errors import NotFoundError, UsageError
from kiseki.sdk import file_saver

QUIET = {"stats_interval": 0, "console": "off"}


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def wait_until(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_save_now_copies_matching_files_and_reads_them_back(
    kiseki_dir: Path, workdir: Path
) -> None:
    (workdir / "out").mkdir()
    (workdir / "out" / "a.txt").write_text("alpha")
    (workdir / "out" / "b.txt").write_bytes(b"\x00\x01binary")
    (workdir / "out" / "skip.log").write_text("no")
    run = kiseki.init(project="files", settings=QUIET)
    assert run.save("out/*.txt", policy="now") == ["out/a.txt", "out/b.txt"]
    (workdir / "out" / "a.txt").write_text("changed after the save")
    run.finish()
    stored = kiseki.Api().run(run.path)
    names = [f.name for f in stored.files()]
    assert "out/a.txt" in names and "out/b.txt" in names and "out/skip.log" not in names
    a = stored.file("out/a.txt")
    assert a.read_bytes() == b"alpha" and a.size == 5 and a.versions == 1
    target = stored.file("out/b.txt").download(root=workdir / "restored")
    assert target == workdir / "restored" / "out" / "b.txt"
    assert target.read_bytes() == b"\x00\x01binary"
    with pytest.raises(UsageError, match="already exists"):
        stored.file("out/b.txt").download(root=workdir / "restored")
    assert stored.file("out/b.txt").download(root=workdir / "restored", exist_ok=True) == target
    with pytest.raises(NotFoundError, match="no saved file"):
        stored.file("missing.txt")


def test_names_are_relative_to_base_path(kiseki_dir: Path, workdir: Path) -> None:
    (workdir / "ckpt" / "deep").mkdir(parents=True)
    (workdir / "ckpt" / "deep" / "model.pt").write_bytes(b"weights")
    run = kiseki.init(project="files", settings=QUIET)
    assert run.save("ckpt/deep/*.pt", base_path="ckpt", policy="now") == ["deep/model.pt"]
    absolute = str(workdir / "ckpt" / "deep" / "*.pt")
    assert kiseki.save(absolute, policy="now") == ["model.pt"]  # the pattern's directory
    with pytest.raises(UsageError, match="outside base_path"):
        run.save("ckpt/deep/*.pt", base_path="elsewhere", policy="now")
    run.finish()
    names = {f.name for f in kiseki.Api().run(run.path).files()}
    assert {"deep/model.pt", "model.pt"} <= names


def test_bad_calls_are_refused_clearly(kiseki_dir: Path, workdir: Path) -> None:
    with pytest.raises(UsageError, match=r"kiseki.save\(\) was called before kiseki.init"):
        kiseki.save("x.txt")
    run = kiseki.init(project="files", settings=QUIET)
    with pytest.raises(UsageError, match="is not a policy"):
        run.save("x.txt", policy="sometimes")
    with pytest.raises(UsageError, match="glob pattern"):
        run.save("")
    run.finish()
    with pytest.raises(UsageError, match="is finished"):
        run.save("x.txt")


def test_live_files_are_saved_again_when_they_change(
    kiseki_dir: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_saver, "LIVE_POLL_S", 0.05)
    log = workdir / "train.log"
    log.write_text("epoch 1\n")
    run = kiseki.init(project="files", settings=QUIET)
    assert run.save("*.log") == ["train.log"]  # live is the default
    saver = run._run_data.files
    log.write_text("epoch 1\nepoch 2\n")
    wait_until(lambda: saver._seen["train.log"][1] == len("epoch 1\nepoch 2\n"))
    (workdir / "late.log").write_text("matched later")
    wait_until(lambda: "late.log" in saver._seen)
    with log.open("a") as out:
        out.write("epoch 3\n")  # changed just before finish: saved at finish
    run.finish()
    stored = kiseki.Api().run(run.path)
    train = stored.file("train.log")
    assert train.read_bytes() == b"epoch 1\nepoch 2\nepoch 3\n"
    assert train.versions == 3
    assert stored.file("late.log").read_bytes() == b"matched later"


def test_end_files_are_saved_at_finish(kiseki_dir: Path, workdir: Path) -> None:
    run = kiseki.init(project="files", settings=QUIET)
    assert run.save("results/*.json", policy="end") == []  # nothing yet: saved at the end
    (workdir / "results").mkdir()
    (workdir / "results" / "metrics.json").write_text('{"acc": 0.9}')
    run.finish()
    stored = kiseki.Api().run(run.path)
    assert stored.file("results/metrics.json").read_bytes() == b'{"acc": 0.9}'


def test_saved_files_are_in_the_blob_store_and_run_blobs(kiseki_dir: Path, workdir: Path) -> None:
    (workdir / "w.bin").write_bytes(b"w" * 1000)
    run = kiseki.init(project="files", settings=QUIET)
    run.save("w.bin", policy="now")
    run.finish()
    digest = kiseki.Api().run(run.path).file("w.bin").digest
    assert local_blob_store(kiseki_dir).read_bytes(digest) == b"w" * 1000
    with sqlite3.connect(kiseki_dir / "kiseki.db") as db:
        kinds = dict(db.execute("SELECT digest, kind FROM run_blobs").fetchall())
    assert kinds[digest] == "file"


def test_requirements_are_saved_automatically(kiseki_dir: Path, workdir: Path) -> None:
    run = kiseki.init(project="files", settings=QUIET)
    run.finish()
    text = kiseki.Api().run(run.path).file("requirements.txt").read_bytes().decode()
    lines = text.splitlines()
    assert lines == sorted(lines, key=str.lower)
    names = {line.split("==")[0].lower() for line in lines}
    assert {"psutil", "nvidia-ml-py", "kiseki"} <= names
    import psutil

    assert f"psutil=={psutil.__version__}" in lines


def test_the_main_script_is_saved_with_save_code(kiseki_dir: Path, workdir: Path) -> None:
    script = workdir / "train.py"
    script.write_text(
        textwrap.dedent(
            """
            import kiseki
            run = kiseki.init(project="files", id="code0001", settings={"save_code": True})
            run.log({"x": 1})
            run.finish()
            """
        )
    )
    env = {**os.environ, "KISEKI_DIR": str(kiseki_dir), "KISEKI_STATS_INTERVAL": "0"}
    subprocess.run([sys.executable, str(script)], check=True, env=env, timeout=60)
    stored = kiseki.Api().run("files/code0001")
    code = stored.file("code/train.py")
    assert code.kind == "code" and code.read_bytes() == script.read_bytes()


def test_a_disabled_run_saves_nothing(kiseki_dir: Path, workdir: Path) -> None:
    (workdir / "a.txt").write_text("a")
    run = kiseki.init(project="files", mode="disabled")
    assert run.save("a.txt") == []
    with pytest.raises(UsageError, match="is not a policy"):
        run.save("a.txt", policy="never")
    run.finish()


def test_deleting_a_run_deletes_its_files_lines_and_samples(
    kiseki_dir: Path, workdir: Path
) -> None:
    (workdir / "a.txt").write_text("a")
    run = kiseki.init(project="files", settings={"stats_interval": 0.02})
    run.save("a.txt", policy="now")
    print("a line")
    sampler = run._run_data.sampler
    wait_until(lambda: sampler.samples_taken >= 1)
    run.finish()
    tables = ("run_files", "run_console", "run_system_samples", "run_blobs")

    def counts() -> list[int]:
        with sqlite3.connect(kiseki_dir / "kiseki.db") as db:
            return [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in tables]

    assert all(count > 0 for count in counts())
    kiseki.Api().run(run.path).delete()
    assert counts() == [0, 0, 0, 0]
