"""Facts about where a run runs: host, interpreter, command line, git state, CPU, memory, GPUs.

`capture_metadata` is called once from a background thread right after a run starts. It may
take tens of milliseconds, but it never raises and never hangs: each probe is guarded, every
subprocess has a short timeout, and a probe that fails only leaves its field out.
psutil and pynvml are imported inside the probes so that importing this module stays cheap.
"""

from __future__ import annotations

import getpass
import logging
import os
import platform
import shlex
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

__all__ = ["capture_metadata", "strip_url_credentials"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

GIT_TIMEOUT_S = 2.0
GPU_TIMEOUT_S = 5.0


def capture_metadata(
    program_argv: list[str] | None = None,
    cwd: Path | None = None,
    include_gpu: bool = True,
) -> dict[str, Any]:
    """Describe the machine, interpreter, command line and source tree of the current process.

    `program_argv` defaults to `sys.argv`, `cwd` to the current directory. Keys whose value
    cannot be found are left out, so every key is optional for readers. Example:

    >>> meta = capture_metadata(["train.py", "--lr", "0.1"])
    >>> meta["program"], meta["args"]
    ('train.py', ['--lr', '0.1'])
    """
    meta: dict[str, Any] = {}
    argv = list(sys.argv if program_argv is None else program_argv)
    from_sys_argv = program_argv is None

    _put(meta, "username", getpass.getuser)
    _put(meta, "host", socket.gethostname)
    _put(meta, "os", platform.platform)
    _put(meta, "python", platform.python_version)
    _put(meta, "python_implementation", platform.python_implementation)
    _put(meta, "executable", lambda: sys.executable or None)
    _put(meta, "program", lambda: _program(argv, from_sys_argv))
    _put(meta, "args", lambda: [str(a) for a in argv[1:]] if argv else None)
    _put(meta, "command", lambda: _command(argv, from_sys_argv))
    workdir = _attempt(lambda: Path(cwd) if cwd is not None else Path.cwd())
    if workdir is not None:
        meta["cwd"] = str(workdir)
        _put(meta, "git", lambda: _git_info(workdir))
    _put(meta, "cpu", _cpu_info)
    _put(meta, "memory", _memory_info)
    if include_gpu:
        gpu = _attempt(lambda: _run_with_deadline(_gpu_info, GPU_TIMEOUT_S))
        if gpu:
            meta.update(gpu)
    _put(meta, "kiseki_version", _kiseki_version)
    return meta


def strip_url_credentials(url: str) -> str:
    """Remove secrets from a git remote URL.

    HTTP(S) URLs lose their whole `user:password@` part (a lone user is often a token); other
    schemes keep the user name and lose only the password. scp-like `git@host:path` is unchanged.

    >>> strip_url_credentials("https://alice:s3cret@github.com/org/repo.git")
    'https://github.com/org/repo.git'
    """
    parts = urlsplit(url)
    if not parts.scheme or "@" not in parts.netloc:
        return url
    userinfo, _, hostport = parts.netloc.rpartition("@")
    if parts.scheme.lower() in ("http", "https"):
        netloc = hostport
    else:
        user = userinfo.partition(":")[0]
        netloc = f"{user}@{hostport}" if user else hostport
    return urlunsplit(parts._replace(netloc=netloc))


def _attempt(probe: Callable[[], T]) -> T | None:
    try:
        return probe()
    except Exception:
        logger.debug("metadata probe %r failed", probe, exc_info=True)
        return None


def _put(meta: dict[str, Any], key: str, probe: Callable[[], Any]) -> None:
    value = _attempt(probe)
    if value is not None and value != "" and value != {}:
        meta[key] = value


def _program(argv: list[str], from_sys_argv: bool) -> str | None:
    if not argv:
        return None
    if argv[0] == "-c":
        return "-c"
    module = _main_module() if from_sys_argv else None
    return f"-m {module}" if module else str(argv[0])


def _main_module() -> str | None:
    # With `python -m pkg`, sys.argv[0] is the module's file; only __main__'s spec keeps the name.
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    name = getattr(spec, "name", None)
    if not isinstance(name, str) or not name:
        return None
    return name.removesuffix(".__main__")


def _command(argv: list[str], from_sys_argv: bool) -> str | None:
    orig = getattr(sys, "orig_argv", None) if from_sys_argv else None
    if orig:
        return shlex.join(str(a) for a in orig)
    if not argv:
        return None
    python = os.path.basename(sys.executable) if sys.executable else "python"
    return shlex.join([python, *(str(a) for a in argv)])


def _git(workdir: Path, *args: str) -> str | None:
    # --no-optional-locks: `git status` must not take the index lock under the user's feet.
    done = subprocess.run(
        ["git", "--no-optional-locks", *args],
        cwd=workdir,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def _git_info(workdir: Path) -> dict[str, Any] | None:
    if _git(workdir, "rev-parse", "--is-inside-work-tree") != "true":
        return None
    info: dict[str, Any] = {}
    _put(
        info,
        "remote",
        lambda: strip_url_credentials(_git(workdir, "remote", "get-url", "origin") or ""),
    )
    _put(info, "commit", lambda: _git(workdir, "rev-parse", "--verify", "-q", "HEAD"))
    _put(info, "branch", lambda: _git(workdir, "symbolic-ref", "--short", "-q", "HEAD"))
    # Like `git describe --dirty`: changes to tracked files count, untracked files do not.
    status = _attempt(lambda: _git(workdir, "status", "--porcelain", "--untracked-files=no"))
    if status is not None:
        info["dirty"] = status != ""
    return info


def _cpu_info() -> dict[str, Any]:
    import psutil

    info: dict[str, Any] = {}
    _put(info, "model", _cpu_model)
    _put(info, "count_logical", lambda: psutil.cpu_count())
    _put(info, "count_physical", lambda: psutil.cpu_count(logical=False))
    return info


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor().strip() or None


def _memory_info() -> dict[str, Any]:
    import psutil

    return {"total_bytes": int(psutil.virtual_memory().total)}


def _run_with_deadline(probe: Callable[[], T], seconds: float) -> T | None:
    # A wedged driver can block NVML forever; a daemon thread keeps that from blocking the run.
    box: list[T | None] = []
    worker = threading.Thread(
        target=lambda: box.append(_attempt(probe)), name="kiseki-metadata-probe", daemon=True
    )
    worker.start()
    worker.join(seconds)
    return box[0] if box else None


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _gpu_info() -> dict[str, Any]:
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:
        return {}  # no package, no driver, no GPU: the common case, not worth a log line
    try:
        info: dict[str, Any] = {}
        _put(info, "gpu", lambda: _gpu_devices(pynvml) or None)
        _put(info, "gpu_driver", lambda: _text(pynvml.nvmlSystemGetDriverVersion()))
        _put(info, "cuda_version", lambda: _cuda_text(pynvml.nvmlSystemGetCudaDriverVersion()))
        return info
    finally:
        _attempt(lambda: pynvml.nvmlShutdown())


def _gpu_devices(pynvml: Any) -> list[dict[str, Any]]:
    return [_gpu_device(pynvml, index) for index in range(int(pynvml.nvmlDeviceGetCount()))]


def _cuda_text(version: int) -> str:
    return f"{version // 1000}.{version % 1000 // 10}"  # NVML encodes CUDA 12.4 as 12040


def _gpu_device(pynvml: Any, index: int) -> dict[str, Any]:
    device: dict[str, Any] = {}
    handle = _attempt(lambda: pynvml.nvmlDeviceGetHandleByIndex(index))
    if handle is None:
        return device
    _put(device, "name", lambda: _text(pynvml.nvmlDeviceGetName(handle)))
    _put(device, "memory_total_bytes", lambda: int(pynvml.nvmlDeviceGetMemoryInfo(handle).total))
    _put(device, "uuid", lambda: _text(pynvml.nvmlDeviceGetUUID(handle)))
    return device


def _kiseki_version() -> str:
    try:
        from kiseki import __version__
    except ImportError:  # a stale editable install can leave `kiseki` a namespace package
        from importlib.metadata import version

        return version("kiseki")
    return __version__
