"""``Run``: one unit of computation logged to kiseki (what ``kiseki.init()`` returns)."""

from __future__ import annotations

import operator
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kiseki.errors import UsageError
from kiseki.media.base import is_media
from kiseki.media.references import row_has_media, store_row_media
from kiseki.runlog.records import (
    ConfigChanged,
    MediaStored,
    MetricDefined,
    RunFinished,
    RunUpdated,
)
from kiseki.sdk import console
from kiseki.sdk.config import Config
from kiseki.sdk.metrics import MetricDefinition, MetricRegistry, parse_summary
from kiseki.sdk.summary import Summary
from kiseki.sdk.values import (
    FAST_SCALAR_TYPES,
    MAX_STEP,
    RESERVED_KEYS,
    check_text,
    flatten_row,
)

_SCALARS = FAST_SCALAR_TYPES  # strings take flatten_row, which checks they are valid text
_MAX_KNOWN_KEYS = 100_000


KILLED_EXIT_CODE = 255
"""The exit code recorded for a run stopped from the web app (its state reads ``killed``)."""


class KisekiWarning(UserWarning):
    """A problem kiseki worked around (e.g. a dropped out-of-order step)."""


class Run:
    """A run: log metrics with :meth:`log`, describe it with :attr:`config` and :attr:`summary`.

    >>> run = kiseki.init(project="mnist", config={"lr": 1e-3})   # doctest: +SKIP
    >>> run.log({"loss": 0.5})                                    # doctest: +SKIP
    >>> run.finish()                                              # doctest: +SKIP

    Use it as a context manager to finish it on exit (exit code 1 when the body raised).
    """

    def __init__(
        self,
        *,
        run_id: str,
        name: str,
        project: str,
        entity: str,
        notes: str | None,
        tags: tuple[str, ...],
        group: str | None,
        job_type: str | None,
        config: dict[str, Any],
        summary: dict[str, Any] | None = None,
        start_step: int = 0,
        start_time: float,
        runtime_offset: float = 0.0,
        run_dir: Path | None,
        mode: str,
        resumed: bool = False,
        finish_timeout: float = 60.0,
        silent: bool = False,
        where: str = "",
        on_finish: Callable[[Run], None] | None = None,
        stop_raises: bool = False,
    ) -> None:
        self._id = run_id
        self._name = name
        self._project = project
        self._entity = entity
        self._notes = notes
        self._tags = tuple(tags)
        self._group = group
        self._job_type = job_type
        self._dir = run_dir
        self._mode = mode
        self._resumed = resumed
        self._start_time = start_time
        self._runtime_offset = runtime_offset
        self._finish_timeout = finish_timeout
        self._silent = silent
        self._where = where
        self._on_finish = on_finish
        self._pid = os.getpid()
        self._step = start_step
        self._pending: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._finished = False
        self._stop_requested = False
        self._stop_raises = stop_raises
        self._metrics = MetricRegistry()
        self._summary_dirty = False
        self._writer: Any = None
        self._submit: Callable[[Any], None] = _discard
        self._run_data: Any = None  # system metrics, console capture, files (sdk/run_data.py)
        self._settings: Any = None  # set by kiseki.init (artifacts need KISEKI_DIR, server)
        self._artifact_source: Any = None
        self._media_blobs: Any = None  # the local blob store, opened on the first media
        self._known_keys: set[str] = set()  # keys already checked to be valid text
        self.config = Config()
        self.config._data.update(config)
        self.config._attach(self._config_changed)
        self.summary = Summary(on_change=self._mark_summary_dirty)
        if summary:
            self.summary._data.update(summary)

    # -- wiring (called by kiseki.init) ----------------------------------------------------
    def _attach_writer(self, writer: Any) -> None:
        self._writer = writer
        self._submit = writer.submit

    def _attach_run_data(self, run_data: Any) -> None:
        self._run_data = run_data

    def _snapshot_summary(self) -> dict[str, Any] | None:
        if not self._summary_dirty:
            return None
        self._summary_dirty = False
        return dict(self.summary._data)

    def _mark_summary_dirty(self) -> None:
        self._summary_dirty = True

    def _config_changed(self, config: dict[str, Any]) -> None:
        self._check_open("change the config of")
        self._submit(ConfigChanged(0, config))

    # -- identity ---------------------------------------------------------------------------
    @property
    def id(self) -> str:
        """The run's id (8 characters unless given to ``init``)."""
        return self._id

    @property
    def name(self) -> str:
        """The run's display name; settable."""
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = str(value)
        self._update_field("name", self._name)

    @property
    def notes(self) -> str | None:
        """The run's description; settable."""
        return self._notes

    @notes.setter
    def notes(self, value: str | None) -> None:
        self._notes = value
        self._update_field("notes", value)

    @property
    def tags(self) -> tuple[str, ...]:
        """The run's tags; settable with any sequence of strings."""
        return self._tags

    @tags.setter
    def tags(self, value: Any) -> None:
        self._tags = tuple(str(t) for t in value)
        self._update_field("tags", list(self._tags))

    @property
    def group(self) -> str | None:
        """The run's group; settable."""
        return self._group

    @group.setter
    def group(self, value: str | None) -> None:
        self._group = value
        self._update_field("group", value)

    @property
    def job_type(self) -> str | None:
        """The run's job type; settable."""
        return self._job_type

    @job_type.setter
    def job_type(self, value: str | None) -> None:
        self._job_type = value
        self._update_field("job_type", value)

    @property
    def project(self) -> str:
        """The project the run belongs to."""
        return self._project

    @property
    def entity(self) -> str:
        """The entity (user or team) owning the project."""
        return self._entity

    @property
    def path(self) -> str:
        """``entity/project/id``, accepted by ``kiseki.Api().run()``."""
        return f"{self._entity}/{self._project}/{self._id}"

    @property
    def dir(self) -> str | None:
        """The run's local directory (holding its ``run.log``); ``None`` when disabled."""
        return str(self._dir) if self._dir else None

    @property
    def mode(self) -> str:
        """``online``, ``offline`` or ``disabled``."""
        return self._mode

    @property
    def resumed(self) -> bool:
        """Whether this run continues an earlier one."""
        return self._resumed

    @property
    def start_time(self) -> float:
        """When this process started the run (epoch seconds)."""
        return self._start_time

    @property
    def step(self) -> int:
        """The step the next committed row gets."""
        return self._step

    @property
    def finished(self) -> bool:
        """Whether :meth:`finish` was called."""
        return self._finished

    def _update_field(self, field: str, value: Any) -> None:
        self._check_open("change")
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                check_text(text, f"The run's {field}")
        self._submit(RunUpdated(0, {field: value}))

    def __repr__(self) -> str:
        return f"<kiseki.Run {self.path} name={self._name!r}>"

    # -- logging ------------------------------------------------------------------------------
    def _check_open(self, action: str = "log to") -> None:
        if self._finished:
            raise UsageError(
                f"Run {self._id} is finished: call kiseki.init() to start a new run "
                f"before you {action} it."
            )
        if self._pid != os.getpid():
            raise UsageError(
                f"Run {self._id} belongs to process {self._pid}, not to this child process "
                f"{os.getpid()}: call kiseki.init() in the child (and kiseki.finish() before "
                "it exits) to log from it."
            )

    def log(
        self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None
    ) -> None:
        """Log a dict of values as one history row.

        Each call without ``step`` commits one row with ``_step`` 0, 1, 2, ... ``commit=False``
        merges ``data`` into the pending row without committing it. An explicit ``step`` keeps
        that row open until a larger step or a step-less call commits it; a step smaller than
        the current one is dropped with a warning. Nested dicts are flattened with ``/``.
        Raises ``TypeError`` (:class:`~kiseki.errors.ValueTypeError`) naming the key when a
        value cannot be recorded; nothing of that call is recorded then.
        """
        if self._finished or self._stop_requested or self._pid != os.getpid():
            if self._stop_requested:
                self._stop()
                return
            self._check_open()
        row: dict[str, Any] = {}
        scalars_only = True
        try:
            for key, value in data.items():
                if type(value) in _SCALARS and type(key) is str:
                    row[key] = value
                else:
                    row = flatten_row(data)
                    scalars_only = False
                    break
        except AttributeError:
            row = flatten_row(data)
        if not RESERVED_KEYS.isdisjoint(row) or "" in row:
            flatten_row(data)  # raises the explanatory error
        if not self._known_keys.issuperset(row):
            self._learn_keys(row)
        if not scalars_only and row_has_media(row):
            self._store_media(row)
        with self._lock:  # steps stay consecutive when several threads log
            if step is None:
                if self._pending is not None:
                    self._pending.update(row)
                    if commit is False:
                        return
                    row = self._pending
                    self._pending = None
                elif commit is False:
                    self._pending = row
                    return
                self._commit(row)
                return
            self._log_at_step(row, step, commit)

    def _store_media(self, row: dict[str, Any]) -> None:
        """Write the row's media to the blob store and replace them by references; the
        ``MediaStored`` record naming their blobs is queued before the row itself."""
        settings = self._settings
        if settings is not None and self._media_blobs is None:
            from kiseki.blobs import local_blob_store

            self._media_blobs = local_blob_store(settings.kiseki_dir)
        try:
            digests = store_row_media(row, self._media_blobs)
        except OSError as exc:  # a full or read-only disk must not stop the training loop
            warnings.warn(
                f"kiseki: could not store the media logged under {sorted(row)}: {exc}. "
                "They were left out of this row.",
                KisekiWarning,
                stacklevel=3,
            )
            for key in [k for k, v in row.items() if _holds_media(v)]:
                del row[key]
            return
        if digests:
            self._submit(MediaStored(0, sorted(set(digests))))

    def _learn_keys(self, row: dict[str, Any]) -> None:
        """Refuse keys that are not valid text; remember the good ones (a set lookup later)."""
        for key in row:
            if key not in self._known_keys:
                check_text(key, "A key given to kiseki.log()")
        if len(self._known_keys) < _MAX_KNOWN_KEYS:
            self._known_keys.update(row)

    def _log_at_step(self, row: dict[str, Any], step: Any, commit: bool | None) -> None:
        try:
            step = operator.index(step)
        except TypeError:
            raise UsageError(
                f"step must be an integer, got {type(step).__name__} {step!r}."
            ) from None
        if step < 0:
            raise UsageError(f"step must not be negative, got {step}.")
        if step > MAX_STEP:
            raise UsageError(
                f"step {step} is too large: a step must fit in a signed 64-bit integer "
                f"(at most {MAX_STEP})."
            )
        if step < self._step:
            warnings.warn(
                f"kiseki: step {step} is smaller than the current step {self._step}; the "
                f"values logged at step {step} were dropped. Steps must not go backwards: "
                "log without step= or with a growing step.",
                KisekiWarning,
                stacklevel=3,
            )
            return
        if step > self._step:
            if self._pending is not None:
                pending = self._pending
                self._pending = None
                self._commit(pending)
            self._step = step
        if self._pending is None:
            self._pending = row
        else:
            self._pending.update(row)
        if commit:
            pending = self._pending
            self._pending = None
            self._commit(pending)

    def _commit(self, row: dict[str, Any]) -> None:
        if self._step > MAX_STEP:
            raise UsageError(
                f"Run {self._id} has reached the largest step a store can hold ({MAX_STEP}): "
                "start a new run (kiseki.init()) to log more."
            )
        if self._metrics:
            self._metrics.process(row, self.summary._data)
        else:
            self.summary._data.update(row)
        self._summary_dirty = True
        self._submit((self._step, time.time(), row))
        self._step += 1

    def define_metric(
        self,
        name: str,
        step_metric: str | None = None,
        summary: str | None = None,
        hidden: bool = False,
    ) -> MetricDefinition:
        """Say how the metric ``name`` (a trailing ``*`` matches a prefix) is summarised.

        ``summary`` is one or more of ``min max mean first last none`` (comma-separated);
        ``step_metric`` names the metric used as its x-axis (rows logging ``name`` then carry
        the step metric's last value); ``hidden`` hides it from the web app's charts.
        """
        self._check_open("define a metric of")
        if not isinstance(name, str) or not name or "*" in name[:-1]:
            raise UsageError(
                f"define_metric({name!r}): give a metric name, optionally ending with '*' to "
                "match every metric with that prefix."
            )
        for text in (name, step_metric):
            if isinstance(text, str):
                check_text(text, "define_metric()'s metric name")
        definition = MetricDefinition(
            name=name, step_metric=step_metric, summary=parse_summary(summary), hidden=hidden
        )
        self._metrics.define(definition)
        self._submit(MetricDefined(0, definition.to_dict()))
        return definition

    def save(
        self,
        glob_str: str | os.PathLike[str],
        base_path: str | os.PathLike[str] | None = None,
        policy: str = "live",
    ) -> list[str]:
        """Save the files matching ``glob_str`` with the run; returns their names in the run.

        ``policy``: ``"live"`` (save now and again whenever they change), ``"now"`` or
        ``"end"`` (at finish). Names are relative to ``base_path`` (default: the working
        directory, or the pattern's directory for an absolute pattern). The run page's Files
        tab lists them; ``kiseki.Api().run(path).files()`` reads them back.

        >>> run.save("checkpoints/*.pt", policy="end")  # doctest: +SKIP
        """
        self._check_open("save files to")
        if self._run_data is None:  # a disabled run: check the call, save nothing
            from kiseki.sdk.file_saver import POLICIES

            if policy not in POLICIES:
                raise UsageError(
                    f"save(policy={policy!r}) is not a policy: use 'live', 'now' or 'end'."
                )
            return []
        return list(self._run_data.files.save(glob_str, base_path, policy))

    # -- stopping from the web app ---------------------------------------------------------------
    # -- artifacts ----------------------------------------------------------------------------
    def log_artifact(self, artifact: Any, aliases: list[str] | None = None) -> Any:
        """Log a :class:`kiseki.Artifact` as this run's output: its files go to the blob store
        and it becomes the next version (``v0``, ``v1``, …) unless its content equals an
        existing version; ``latest`` and each of ``aliases`` then point at that version.

        >>> run.log_artifact(artifact, aliases=["best"])   # doctest: +SKIP
        """
        from kiseki.artifacts.tracking import log_artifact

        self._check_open("log an artifact to")
        return log_artifact(
            self._settings, self._submit, self._entity, self._project, artifact, aliases
        )

    def use_artifact(self, artifact: Any, type: str | None = None) -> Any:
        """Record this run as a consumer of an artifact version and return it:
        ``"name:latest"``, ``"name:v3"``, ``"name:best"``, ``"project/name:alias"``,
        ``"entity/project/name:alias"`` or a stored :class:`kiseki.Artifact`.

        >>> data_dir = run.use_artifact("mnist:latest").download()   # doctest: +SKIP
        """
        from kiseki.artifacts.tracking import artifact_source, use_artifact

        self._check_open("use an artifact in")
        if self._settings is None:
            raise UsageError("This run has no store to read artifacts from (it is disabled).")
        if self._artifact_source is None:
            self._artifact_source = artifact_source(self._settings)
        return use_artifact(
            self._artifact_source, self._submit, self._entity, self._project, artifact, type
        )

    def _stop_requested_by_server(self) -> None:
        """Called by the writer thread when the server says someone stopped this run."""
        self._stop_requested = True
        message = f"kiseki: run {self._name} ({self._id}) was stopped from the web app or the API"
        if self._stop_raises:
            import _thread

            print(f"{message}; interrupting the script (stop_raises=True).", file=sys.stderr)
            _thread.interrupt_main()
        else:
            print(
                f"{message}; it is finished as killed and further log() calls are ignored.",
                file=sys.stderr,
            )

    def _stop(self) -> None:
        """Finish a run the server asked to stop (from the caller's thread)."""
        if not self._finished and self._pid == os.getpid():
            self.finish(exit_code=KILLED_EXIT_CODE, quiet=True)

    # -- finishing ----------------------------------------------------------------------------
    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Finish the run: flush everything, record the exit code, print a summary.

        Exit code 0 (the default) marks the run ``finished``; anything else ``failed``.
        Waits at most the finish timeout (60 s, ``KISEKI_FINISH_TIMEOUT``) for the data to
        be stored; what is still pending then stays in the run log for ``kiseki sync`` (said
        on stderr even when silent). The run log is written before the wait, so an interrupt
        (Ctrl-C, SIGTERM) during it leaves a complete log that ``kiseki sync`` or a resume
        applies. Calling it twice is harmless.
        """
        if self._finished or self._pid != os.getpid():
            return
        if self._run_data is not None:  # their last records go before RunFinished
            self._run_data.close()
            self._run_data = None
        with self._lock:
            if self._pending is not None:
                pending = self._pending
                self._pending = None
                self._commit(pending)
            self._finished = True
        code = 0 if exit_code is None else int(exit_code)
        now = time.time()
        self._summary_dirty = True
        self._submit(RunFinished(0, code, now, now - self._start_time + self._runtime_offset))
        notice = None
        if self._writer is not None:
            try:
                complete = self._writer.close(self._finish_timeout)
            except BaseException:  # e.g. Ctrl-C while waiting for the store: the log is complete
                print(
                    f"kiseki: finishing run {self._id} was interrupted; its run log is complete: "
                    f"run `kiseki sync {self._dir}` (or resume the run) to store the rest",
                    file=sys.stderr,
                )
                if self._on_finish is not None:
                    self._on_finish(self)
                raise
            if self._mode == "offline":
                notice = (
                    f"offline run saved in {self._dir}: apply it with `kiseki sync {self._dir}`"
                )
            elif not complete:
                notice = (
                    f"{self._writer.backlog} record(s) were not stored before finish returned; "
                    f"they are safe in {self._dir}/run.log: run `kiseki sync {self._dir}`"
                )
        if self._on_finish is not None:
            self._on_finish(self)
        if not (self._silent if quiet is None else quiet) and self._mode != "disabled":
            state = "finished" if code == 0 else f"failed (exit code {code})"
            console.print_finish(self._name, self._id, state, self.summary.as_dict(), notice)
        elif notice is not None and self._mode == "online":  # data not stored: say so anyway
            print(f"kiseki: run {self._id}: {notice}", file=sys.stderr)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        self.finish(exit_code=0 if exc_type is None else 1)
        return False


def _holds_media(value: Any) -> bool:
    """A media object, a media reference (only media make dict values) or a list of them."""
    if type(value) is list:
        return any(_holds_media(item) for item in value)
    return type(value) is dict or is_media(value)


def _discard(_item: Any) -> None:
    """The submit function of a disabled run."""
