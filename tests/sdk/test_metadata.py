from __future__ import annotations

import importlib.metadata
import json
import platform
import shutil
import socket
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import psutil
import pytest

import kiseki
from kiseki.sdk.metadata import capture_metadata, strip_url_credentials

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git CLI not installed")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "checkout", "-q", "-b", "trunk")
    (repo / "train.py").write_text("print('hi')\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "first")
    return repo


def test_host_and_interpreter_fields(tmp_path: Path) -> None:
    meta = capture_metadata(["train.py", "--lr", "0.1"], cwd=tmp_path, include_gpu=False)

    assert meta["host"] == socket.gethostname()
    assert meta["os"] == platform.platform()
    assert meta["python"] == platform.python_version()
    assert meta["python_implementation"] == platform.python_implementation()
    assert meta["executable"] == sys.executable
    assert meta["program"] == "train.py"
    assert meta["args"] == ["--lr", "0.1"]
    assert meta["cwd"] == str(tmp_path)
    expected_version = getattr(kiseki, "__version__", None) or importlib.metadata.version("kiseki")
    assert meta["kiseki_version"] == expected_version
    assert isinstance(meta["username"], str) and meta["username"]
    json.dumps(meta)  # stored as JSON, so every value must serialise


def test_command_is_shell_quoted() -> None:
    argv = ["my script.py", "--name", "two words", "--lr", "0.1"]
    meta = capture_metadata(argv, include_gpu=False)

    python = Path(sys.executable).name
    assert meta["command"] == f"{python} 'my script.py' --name 'two words' --lr 0.1"
    assert meta["args"] == ["--name", "two words", "--lr", "0.1"]


def test_program_for_dash_c() -> None:
    meta = capture_metadata(["-c", "x"], include_gpu=False)
    assert meta["program"] == "-c"
    assert meta["args"] == ["x"]


def test_program_for_dash_m(monkeypatch: pytest.MonkeyPatch) -> None:
    main = types.ModuleType("__main__")
    main.__spec__ = types.SimpleNamespace(name="mypkg.train")
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.setattr(sys, "argv", ["/src/mypkg/train.py", "--epochs", "3"])
    monkeypatch.setattr(sys, "orig_argv", ["python", "-m", "mypkg.train", "--epochs", "3"])

    meta = capture_metadata(include_gpu=False)

    assert meta["program"] == "-m mypkg.train"
    assert meta["args"] == ["--epochs", "3"]
    assert meta["command"] == "python -m mypkg.train --epochs 3"


def test_cpu_and_memory_match_psutil() -> None:
    meta = capture_metadata([], include_gpu=False)

    assert meta["cpu"]["count_logical"] == psutil.cpu_count()
    assert meta["cpu"]["count_physical"] == psutil.cpu_count(logical=False)
    assert isinstance(meta["cpu"].get("model", ""), str)
    assert meta["memory"] == {"total_bytes": psutil.virtual_memory().total}


def test_failing_probe_drops_only_its_field(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise OSError("no /proc/meminfo")

    monkeypatch.setattr(psutil, "virtual_memory", broken)
    meta = capture_metadata(["train.py"], include_gpu=False)

    assert "memory" not in meta
    assert meta["cpu"]["count_logical"] == psutil.cpu_count()
    assert meta["program"] == "train.py"


@needs_git
def test_git_fields(git_repo: Path) -> None:
    _git(git_repo, "remote", "add", "origin", "https://alice:s3cret@example.com/org/repo.git")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=git_repo, capture_output=True, text=True, check=True
    ).stdout.strip()

    clean = capture_metadata([], cwd=git_repo, include_gpu=False)["git"]
    assert clean == {
        "remote": "https://example.com/org/repo.git",
        "commit": head,
        "branch": "trunk",
        "dirty": False,
    }

    (git_repo / "train.py").write_text("print('changed')\n")
    dirty = capture_metadata([], cwd=git_repo / ".", include_gpu=False)["git"]
    assert dirty["dirty"] is True
    assert "s3cret" not in json.dumps(dirty)


@needs_git
def test_git_without_remote_omits_remote(git_repo: Path) -> None:
    info = capture_metadata([], cwd=git_repo, include_gpu=False)["git"]
    assert "remote" not in info
    assert info["dirty"] is False


def test_no_git_key_outside_a_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A ceiling stops git from finding a repository that happens to enclose tmp_path.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    meta = capture_metadata([], cwd=tmp_path, include_gpu=False)
    assert "git" not in meta
    assert meta["cwd"] == str(tmp_path)


def test_missing_cwd_omits_cwd_and_git(tmp_path: Path) -> None:
    meta = capture_metadata([], cwd=tmp_path / "gone", include_gpu=False)
    assert "git" not in meta
    assert meta["host"] == socket.gethostname()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://alice:s3cret@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://ghp_token@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://github.com/o/r.git", "https://github.com/o/r.git"),
        ("ssh://git:pw@host:2222/o/r.git", "ssh://git@host:2222/o/r.git"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("/srv/git/r.git", "/srv/git/r.git"),
    ],
)
def test_strip_url_credentials(url: str, expected: str) -> None:
    assert strip_url_credentials(url) == expected


class FakeNVMLError(Exception):
    pass


class FakeLibraryNotFound(FakeNVMLError):
    pass


def _fake_pynvml(**functions: Any) -> types.ModuleType:
    module = types.ModuleType("pynvml")
    module.NVMLError = FakeNVMLError
    module.NVMLError_LibraryNotFound = FakeLibraryNotFound
    for name, function in functions.items():
        setattr(module, name, function)
    return module


def test_no_gpu_keys_when_nvml_init_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    shutdowns: list[bool] = []

    def init() -> None:
        raise FakeLibraryNotFound("NVML Shared Library Not Found")

    fake = _fake_pynvml(nvmlInit=init, nvmlShutdown=lambda: shutdowns.append(True))
    monkeypatch.setitem(sys.modules, "pynvml", fake)

    meta = capture_metadata([])

    assert not {"gpu", "gpu_driver", "cuda_version"} & meta.keys()
    assert shutdowns == []  # never shut down what did not start
    assert meta["python"] == platform.python_version()


def test_no_gpu_keys_when_pynvml_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    meta = capture_metadata([])
    assert not {"gpu", "gpu_driver", "cuda_version"} & meta.keys()


def test_gpu_fields_from_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    handle = object()

    def get_handle(index: int) -> object:
        assert index == 0
        return handle

    fake = _fake_pynvml(
        nvmlInit=lambda: calls.append("init"),
        nvmlShutdown=lambda: calls.append("shutdown"),
        nvmlDeviceGetCount=lambda: 1,
        nvmlDeviceGetHandleByIndex=get_handle,
        nvmlDeviceGetName=lambda h: b"NVIDIA H100 80GB HBM3",  # old pynvml returns bytes
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(total=85_520_809_984),
        nvmlDeviceGetUUID=lambda h: "GPU-1234",
        nvmlSystemGetDriverVersion=lambda: "550.54.15",
        nvmlSystemGetCudaDriverVersion=lambda: 12040,
    )
    monkeypatch.setitem(sys.modules, "pynvml", fake)

    meta = capture_metadata([])

    assert meta["gpu"] == [
        {"name": "NVIDIA H100 80GB HBM3", "memory_total_bytes": 85_520_809_984, "uuid": "GPU-1234"}
    ]
    assert meta["gpu_driver"] == "550.54.15"
    assert meta["cuda_version"] == "12.4"
    assert calls == ["init", "shutdown"]
    json.dumps(meta)


def test_gpu_probe_failures_after_init_still_shut_down(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def count() -> int:
        raise FakeNVMLError("Unknown Error")

    fake = _fake_pynvml(
        nvmlInit=lambda: calls.append("init"),
        nvmlShutdown=lambda: calls.append("shutdown"),
        nvmlDeviceGetCount=count,
        nvmlSystemGetDriverVersion=lambda: b"535.1",
        # nvmlSystemGetCudaDriverVersion missing, as in a very old pynvml
    )
    monkeypatch.setitem(sys.modules, "pynvml", fake)

    meta = capture_metadata([])

    assert "gpu" not in meta
    assert "cuda_version" not in meta
    assert meta["gpu_driver"] == "535.1"
    assert calls == ["init", "shutdown"]


def test_include_gpu_false_skips_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    def init() -> None:
        raise AssertionError("NVML must not be touched")

    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(nvmlInit=init))
    meta = capture_metadata([], include_gpu=False)
    assert "gpu" not in meta
