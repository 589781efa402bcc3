"""The process-wide side of the SDK: ``init``, the current run, module-level helpers, exit hooks.

At most one run is *the* active run of a process (``kiseki.run``); ``reinit="create_new"``
allows more, and ``kiseki.run`` is then the most recent one still open. Runs left open are
finished at interpreter exit with the process's exit code (an uncaught exception or
``sys.exit(n)`` with ``n != 0`` marks them ``failed``).
"""

from __future__ import annotations

import atexit
import datetime
import hashlib
import os
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiseki.errors import UsageError
from kiseki.runlog.records import RunStarted
from kiseki.sdk import console
from kiseki.sdk.config import Config, as_config_dict, load_yaml_config
from kiseki.sdk.names import generate_run_id, generate_run_name, validate_run_id
from kiseki.sdk.run import KisekiWarning, Run
from kiseki.sdk.values import check_texts, normalize_tree
from kiseki.settings import Settings, resolve_settings
from kiseki.store.applier import RunKey
from kiseki.store.lookup import StoredRun

if TYPE_CHECKING:
    from kiseki.sweeps.trial import TrialContext

DEFAULT_PROJECT = "Uncategorized"
CONFIG_DEFAULTS_FILE = "config-defaults.yaml"
REINIT_CHOICES = ("return_previous", "finish_previous", "create_new")

_active: list[Run] = []
_exit_code: int | None = None
_hooks_installed = False


def current_run() -> Run | None:
    """The active run of this process, or ``None`` before ``init`` and after ``finish``."""
    return _active[-1] if _active else None


def _detach(run: Run) -> None:
    if run in _active:
        _active.remove(run)


def init(
    project: str | None = None,
    entity: str | None = None,
    name: str | None = None,
    id: str | None = None,
    notes: str | None = None,
    tags: Sequence[str] | None = None,
    config: Any = None,
    group: str | None = None,
    job_type: str | None = None,
    dir: str | Path | None = None,
    mode: str | None = None,
    resume: bool | str | None = None,
    reinit: bool | str | None = None,
    settings: Mapping[str, Any] | Settings | None = None,
    **unsupported: Any,
) -> Run:
    """Start a run and make it the active run of this process.

    Arguments win over ``settings=``, which wins over ``KISEKI_*`` then ``WANDB_*``
    environment variables. With no project the run goes to ``"Uncategorized"``; with no id it
    gets 8 random ``[a-z0-9]`` characters; with no name ``adjective-noun-N``. If a run is
    already active it is returned (with a warning) unless ``reinit="finish_previous"``
    (finish it first) or ``reinit="create_new"`` (start a second run).
    """
    if unsupported:
        raise UsageError(
            f"kiseki.init() got unknown argument(s) {', '.join(sorted(unsupported))}: see "
            "help(kiseki.init) for the supported ones."
        )
    reinit_mode = _reinit_mode(reinit)
    active = current_run()
    if active is not None and active._pid == os.getpid():
        if reinit_mode == "return_previous":
            warnings.warn(
                f"kiseki.init() was called while run {active.id} is active: returning it. "
                "Call kiseki.finish() first, or pass reinit='finish_previous' or "
                "reinit='create_new'.",
                KisekiWarning,
                stacklevel=2,
            )
            return active
        if reinit_mode == "finish_previous":
            active.finish()
    resolved = resolve_settings(
        {
            "project": project,
            "entity": entity,
            "name": name,
            "run_id": id,
            "notes": notes,
            "tags": tags,
            "group": group,
            "job_type": job_type,
            "run_dir_root": dir,
            "mode": mode,
            "resume": resume,
        },
        settings,
    )
    from kiseki.sweeps.trial import apply_trial, pending_trial

    trial = pending_trial(resolved) if resolved.mode != "disabled" else None
    if trial is not None:  # a sweep trial: its run id, project and locked parameters
        resolved = apply_trial(resolved, trial)
    run = _start_run(resolved, config, trial)
    _active.append(run)
    _install_hooks()
    return run


def _reinit_mode(reinit: bool | str | None) -> str:
    if reinit is None or reinit is False:
        return "return_previous"
    if reinit is True:
        return "finish_previous"
    if reinit not in REINIT_CHOICES:
        raise UsageError(
            f"reinit={reinit!r} is not supported: use one of {', '.join(REINIT_CHOICES)}."
        )
    return str(reinit)


def _initial_config(config: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    defaults = Path.cwd() / CONFIG_DEFAULTS_FILE
    if defaults.is_file():
        merged.update(load_yaml_config(defaults))
    merged.update(as_config_dict(config))
    return normalize_tree(merged)


def _new_run(
    settings: Settings,
    key: RunKey,
    name: str,
    config: dict[str, Any],
    **options: Any,
) -> Run:
    """The :class:`Run` ``key`` called ``name``, with the notes, tags, group and job type of
    ``settings``; ``options`` are the rest of :class:`Run`'s arguments (start time, directory,
    mode, resume state...)."""
    return Run(
        run_id=key.run_id,
        name=name,
        project=key.project,
        entity=key.entity,
        notes=settings.notes,
        tags=settings.tags,
        group=settings.group,
        job_type=settings.job_type,
        config=config,
        **options,
    )


def _start_run(settings: Settings, config: Any, trial: TrialContext | None = None) -> Run:
    texts = ("project", "entity", "name", "notes", "tags", "group", "job_type")
    check_texts({f: getattr(settings, f) for f in texts}, "kiseki.init()")  # storable text
    initial_config = _initial_config(config)
    if trial is not None:
        from kiseki.sweeps.trial import merge_params

        initial_config = merge_params(initial_config, trial)
    project = settings.project or DEFAULT_PROJECT
    entity = settings.default_entity
    if settings.mode == "disabled":
        disabled_id = validate_run_id(settings.run_id) if settings.run_id else generate_run_id()
        return _new_run(
            settings,
            RunKey(entity, project, disabled_id),
            settings.name or "disabled-run",
            initial_config,
            start_time=time.time(),
            run_dir=None,
            mode="disabled",
            silent=True,
            on_finish=_detach,
        )

    from kiseki.sdk.backends import make_backend

    backend = make_backend(settings)
    entity = backend.default_entity()
    resume_file = _resume_file(settings)
    run_id = settings.run_id
    if run_id is None and settings.resume == "auto":
        run_id = _read_resume_file(resume_file, entity, project)
    run_id = validate_run_id(run_id) if run_id else generate_run_id()
    key = RunKey(entity, project, run_id)
    if settings.resume is not None and settings.mode == "online":
        backend.apply_leftovers(run_id)
    try:
        stored, run_count = backend.look_up(key)
    finally:
        backend.close()
    if settings.resume is not None and settings.mode == "offline":
        from kiseki.sinks.sync import resume_point  # continue after unsynced logs of the run

        stored = resume_point(settings.runs_root, key, stored)
    resumed = _decide_resume(settings.resume, stored, entity, project, run_id, settings.run_id)
    name = settings.name or (stored.name if resumed and stored else None)
    name = name or generate_run_name(run_count + 1)
    start_time = time.time()
    stamp = datetime.datetime.fromtimestamp(start_time).strftime("%Y%m%d_%H%M%S")
    run_dir = _new_run_dir(settings.runs_root, f"run-{stamp}-{run_id}")
    if resumed and stored is not None:
        merged = dict(stored.config)
        merged.update(initial_config)
        initial_config = merged

    run = _new_run(
        settings,
        key,
        name,
        initial_config,
        summary=stored.summary if resumed and stored else None,
        start_step=stored.last_step + 1 if resumed and stored else 0,
        start_time=start_time,
        runtime_offset=stored.runtime if resumed and stored else 0.0,
        run_dir=run_dir,
        mode=settings.mode,
        resumed=resumed,
        finish_timeout=settings.finish_timeout,
        silent=settings.silent,
        on_finish=lambda r: _on_run_finished(r, resume_file),
        stop_raises=settings.stop_raises,
    )
    if trial is not None:
        run.config.lock(trial.params, f"sweep {trial.sweep_id}")
    writer = _make_writer(settings, backend, run, stored if resumed else None, run_dir)
    writer.submit(
        RunStarted(
            seq=0,
            run_id=run_id,
            project=project,
            entity=entity,
            name=name,
            created_at=start_time,
            notes=settings.notes,
            tags=list(settings.tags),
            group=settings.group,
            job_type=settings.job_type,
            config=initial_config,
            author=settings.user,
            resumed=resumed,
            privacy=settings.privacy,
        )
    )
    run._attach_writer(writer)
    run._settings = settings
    writer.start()
    from kiseki.sdk.run_data import start_run_data

    epoch = run.start_time - (stored.runtime if resumed and stored else 0.0)
    run._attach_run_data(start_run_data(settings, writer.submit, epoch, sys.argv[0]))
    _write_resume_file(resume_file, entity, project, run_id)
    if not settings.silent:
        console.print_start(name, run_id, project, backend.where(key, run_dir), resumed)
    return run


def _new_run_dir(root: Path, base: str) -> Path:
    """A run directory that no earlier process used (a resume in the same second gets -2)."""
    candidate, number = root / base, 1
    while candidate.exists():
        number += 1
        candidate = root / f"{base}-{number}"
    return candidate


def _decide_resume(
    policy: str | None,
    stored: StoredRun | None,
    entity: str,
    project: str,
    run_id: str,
    given_id: str | None,
) -> bool:
    path = f"{entity}/{project}/{run_id}"
    if policy == "must" and stored is None:
        raise UsageError(
            f"resume='must' but run {path} does not exist: check the id and project, or use "
            "resume='allow' to start it if it is missing."
        )
    if stored is None:
        return False
    if policy in ("allow", "must", "auto"):
        return True
    raise UsageError(
        f"Run {path} already exists: pass resume='allow' (or 'must') to continue it, or "
        "choose another id."
        if given_id
        else f"Generated run id {run_id} collides with an existing run: call init again."
    )


def _make_writer(
    settings: Settings, backend: Any, run: Run, stored: StoredRun | None, run_dir: Path
) -> Any:
    from kiseki.sdk.writer import RunWriter

    sink_factory = backend.make_sink if settings.mode == "online" else None
    argv = list(sys.argv)

    def capture() -> dict[str, Any]:
        from kiseki.sdk.metadata import capture_metadata

        return capture_metadata(argv)

    return RunWriter(
        log_path=run_dir / "run.log",
        key=RunKey(run.entity, run.project, run.id),
        first_seq=(stored.applied_seq + 1) if stored else 1,
        start_time=run.start_time,
        runtime_offset=stored.runtime if stored else 0.0,
        flush_interval=settings.flush_interval,
        heartbeat_interval=settings.heartbeat_interval,
        sink_factory=sink_factory,
        summary_source=run._snapshot_summary,
        metadata_source=capture,
        on_stop_requested=run._stop_requested_by_server,
    )


# -- resume="auto" bookkeeping ---------------------------------------------------------------
def _resume_file(settings: Settings) -> Path:
    digest = hashlib.sha1(str(Path.cwd()).encode()).hexdigest()[:16]
    return settings.runs_root / ".resume" / f"{digest}.json"


def _read_resume_file(path: Path, entity: str, project: str) -> str | None:
    import orjson

    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if data.get("entity") == entity and data.get("project") == project:
        return data.get("run_id")
    return None


def _write_resume_file(path: Path, entity: str, project: str, run_id: str) -> None:
    import orjson

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            orjson.dumps(
                {"entity": entity, "project": project, "run_id": run_id, "cwd": str(Path.cwd())}
            )
        )
    except OSError:
        pass


def _on_run_finished(run: Run, resume_file: Path) -> None:
    _detach(run)
    if (run._writer is not None and run._writer.fully_applied) or run.mode == "offline":
        try:
            resume_file.unlink()
        except OSError:
            pass


# -- module-level helpers --------------------------------------------------------------------
def _require_run(action: str) -> Run:
    run = current_run()
    if run is None:
        raise UsageError(
            f"kiseki.{action}() was called before kiseki.init(): call kiseki.init() to start "
            "a run first."
        )
    return run


def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    """Log to the active run (see :meth:`kiseki.Run.log`)."""
    run = _active[-1] if _active else _require_run("log")
    run.log(data, step=step, commit=commit)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the active run (see :meth:`kiseki.Run.finish`); does nothing when none is active."""
    run = current_run()
    if run is not None:
        run.finish(exit_code=exit_code, quiet=quiet)


def save(
    glob_str: str | os.PathLike[str],
    base_path: str | os.PathLike[str] | None = None,
    policy: str = "live",
) -> list[str]:
    """Save files with the active run (see :meth:`kiseki.Run.save`)."""
    return _require_run("save").save(glob_str, base_path, policy)


def define_metric(
    name: str, step_metric: str | None = None, summary: str | None = None, hidden: bool = False
) -> Any:
    """Define a metric of the active run (see :meth:`kiseki.Run.define_metric`)."""
    return _require_run("define_metric").define_metric(name, step_metric, summary, hidden)


def active_config() -> Config:
    """``kiseki.config``: the active run's config, or a detached one that explains itself."""
    from kiseki.sdk.config import DetachedConfig

    run = current_run()
    return run.config if run is not None else DetachedConfig()


def active_summary() -> Any:
    """``kiseki.summary``: the active run's summary, or a detached one that explains itself."""
    from kiseki.sdk.summary import DetachedSummary

    run = current_run()
    return run.summary if run is not None else DetachedSummary()


# -- process exit ----------------------------------------------------------------------------
def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    previous_excepthook = sys.excepthook
    original_exit = sys.exit

    def excepthook(exc_type: Any, exc: Any, tb: Any) -> None:
        global _exit_code
        _exit_code = 130 if issubclass(exc_type, KeyboardInterrupt) else 1
        previous_excepthook(exc_type, exc, tb)

    def exit_recording_code(status: Any = None) -> None:
        global _exit_code
        if status is None:
            _exit_code = 0
        elif isinstance(status, int):
            _exit_code = status
        else:
            _exit_code = 1
        original_exit(status)

    sys.excepthook = excepthook
    sys.exit = exit_recording_code
    atexit.register(_finish_at_exit)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_forget_runs_in_child)


def _finish_at_exit() -> None:
    for run in list(reversed(_active)):
        try:
            run.finish(exit_code=_exit_code or 0)
        except Exception as exc:  # pragma: no cover - last-resort safety at shutdown
            print(f"kiseki: finishing run {run.id} at exit failed: {exc!r}", file=sys.stderr)


def _forget_runs_in_child() -> None:
    """A forked child does not own its parent's runs: it must init (and finish) its own."""
    _active.clear()
