"""Sweeps and their trials in the store (SQLite or PostgreSQL), shared by every agent.

Trials are handed out in write transactions that lock the sweep's row (``BEGIN IMMEDIATE`` in
SQLite, ``SELECT ... FOR UPDATE`` in PostgreSQL), so agents in many processes or on many
machines never get the same grid point, and ``run_cap`` holds. A trial is linked to its run by
``run_id`` in the sweep's project; the run's state and summary are read from ``runs``.
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from kiseki.errors import NotFoundError, UsageError
from kiseki.store.filters import run_state
from kiseki.store.queries import StoreQueries
from kiseki.store.runcontrol import LIVE_STATES, request_stop
from kiseki.store.schema import projects, runs, sweep_trials, sweeps
from kiseki.sweeps.config import SweepConfig, parse_sweep_config
from kiseki.sweeps.hyperband import hyperband_stops
from kiseki.sweeps.search import (
    FinishedTrial,
    Suggestion,
    bayes_suggestion,
    grid_suggestion,
    random_suggestion,
)

SWEEP_STATES = ("running", "paused", "finished", "cancelled")
"""A sweep's states: ``running`` hands out trials; ``paused`` hands out none for now;
``finished`` (stopped, exhausted, capped or at target) and ``cancelled`` never again."""
TRIAL_STATES = ("running", "finished", "failed", "killed", "crashed")
CONTROL_ACTIONS = ("pause", "resume", "stop", "cancel")
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class SweepRecord:
    """One sweep as stored."""

    pk: int
    entity: str
    project: str
    sweep_id: str
    name: str | None
    description: str | None
    method: str
    config: dict[str, Any]
    state: str
    author: str | None
    created_at: float
    updated_at: float

    @property
    def path(self) -> str:
        """``entity/project/sweep_id``."""
        return f"{self.entity}/{self.project}/{self.sweep_id}"

    @property
    def parsed(self) -> SweepConfig:
        """The validated configuration."""
        return parse_sweep_config(self.config)

    def to_json(self) -> dict[str, Any]:
        """The sweep as the API and the web app show it."""
        return {
            "sweep_id": self.sweep_id,
            "entity": self.entity,
            "project": self.project,
            "name": self.name,
            "description": self.description,
            "method": self.method,
            "config": self.config,
            "state": self.state,
            "author": self.author,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class TrialRecord:
    """One trial with what its run says: ``run_state`` (``None`` before the run started) and
    ``value``, the sweep metric from the run's summary (else what the agent reported)."""

    trial_no: int
    run_id: str
    params: dict[str, Any]
    internal: dict[str, Any]
    grid_index: int | None
    state: str
    exit_code: int | None
    stop_reason: str | None
    error: str | None
    agent: str | None
    created_at: float
    updated_at: float
    run_pk: int | None
    run_state: str | None
    value: float | None

    @property
    def effective_state(self) -> str:
        """The run's state once it exists and has ended, else the trial's."""
        if self.run_state is not None and self.run_state != "running":
            return self.run_state
        return self.state

    def to_json(self) -> dict[str, Any]:
        """The trial as the API and the web app show it."""
        return {
            "trial_no": self.trial_no,
            "run_id": self.run_id,
            "params": self.params,
            "grid_index": self.grid_index,
            "state": self.effective_state,
            "exit_code": self.exit_code,
            "stop_reason": self.stop_reason,
            "error": self.error,
            "agent": self.agent,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "value": self.value,
        }


@dataclass(frozen=True)
class NextTrial:
    """The answer to an agent asking for work: a trial, or none with the sweep's state and why."""

    trial: TrialRecord | None
    state: str
    reason: str


def new_sweep_id() -> str:
    """A random sweep id: 8 characters from ``[a-z0-9]``."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def metric_of(summary: dict[str, Any] | None, name: str) -> float | None:
    """The metric ``name`` from a run summary (``a/b`` or ``a.b`` also found nested)."""
    if not summary:
        return None
    value: Any = summary.get(name)
    if value is None:
        for separator in ("/", "."):
            node: Any = summary
            for part in name.split(separator):
                node = node.get(part) if isinstance(node, dict) else None
            if node is not None:
                value = node
                break
    if isinstance(value, dict):  # a summary like {"min": ..} is not a value
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class SweepStore:
    """Create, read, control sweeps and hand out their trials, on one store."""

    def __init__(self, queries: StoreQueries) -> None:
        self.queries = queries

    # -- sweeps -----------------------------------------------------------------------------
    def create(
        self, entity: str, project: str, config: SweepConfig, author: str | None = None
    ) -> SweepRecord:
        """A new running sweep in ``entity/project`` (the project is made if missing)."""
        now = time.time()
        with self.queries.writing() as conn:
            project_id = self._project_id(conn, entity, project, now)
            sweep_id = new_sweep_id()
            conn.execute(
                sweeps.insert().values(
                    project_id=project_id,
                    sweep_id=sweep_id,
                    name=config.name,
                    description=config.description,
                    method=config.method,
                    config=config.raw,
                    state="running",
                    author=author,
                    created_at=now,
                    updated_at=now,
                )
            )
        return self.get(entity, project, sweep_id)

    def _project_id(self, conn: sa.Connection, entity: str, project: str, now: float) -> int:
        found = conn.scalar(
            sa.select(projects.c.id).where(projects.c.entity == entity, projects.c.name == project)
        )
        if found is not None:
            return int(found)
        if self.queries.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        conn.execute(
            insert(projects)
            .values(entity=entity, name=project, created_at=now, updated_at=now)
            .on_conflict_do_nothing()
        )
        return int(
            conn.scalar(
                sa.select(projects.c.id).where(
                    projects.c.entity == entity, projects.c.name == project
                )
            )
        )

    def _select(self) -> sa.Select[Any]:
        return sa.select(
            sweeps.c.pk,
            projects.c.entity,
            projects.c.name,
            sweeps.c.sweep_id,
            sweeps.c.name,
            sweeps.c.description,
            sweeps.c.method,
            sweeps.c.config,
            sweeps.c.state,
            sweeps.c.author,
            sweeps.c.created_at,
            sweeps.c.updated_at,
        ).select_from(sweeps.join(projects, projects.c.id == sweeps.c.project_id))

    def get(self, entity: str, project: str, sweep_id: str) -> SweepRecord:
        """One sweep, or :class:`NotFoundError`."""
        query = self._select().where(
            projects.c.entity == entity, projects.c.name == project, sweeps.c.sweep_id == sweep_id
        )
        with self.queries.reading() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFoundError(
                f"No sweep {entity}/{project}/{sweep_id}: check the id and the project "
                "(`kiseki sweep` printed both when it was created)."
            )
        return SweepRecord(*row)

    def find(self, sweep_id: str, entity: str | None = None) -> list[SweepRecord]:
        """Sweeps with id ``sweep_id`` in any project (of ``entity`` when given)."""
        query = self._select().where(sweeps.c.sweep_id == sweep_id)
        if entity is not None:
            query = query.where(projects.c.entity == entity)
        with self.queries.reading() as conn:
            return [SweepRecord(*row) for row in conn.execute(query)]

    def sweeps(self, entity: str, project: str) -> list[SweepRecord]:
        """The sweeps of a project, newest first."""
        query = (
            self._select()
            .where(projects.c.entity == entity, projects.c.name == project)
            .order_by(sweeps.c.created_at.desc())
        )
        with self.queries.reading() as conn:
            return [SweepRecord(*row) for row in conn.execute(query)]

    # -- trials -----------------------------------------------------------------------------
    def trials(self, sweep: SweepRecord) -> list[TrialRecord]:
        """Every trial of ``sweep`` in the order they were handed out."""
        metric = sweep.config.get("metric") or {}
        metric_name = metric.get("name") if isinstance(metric, dict) else None
        cutoff = time.time() - self.queries.heartbeat_timeout
        query = (
            sa.select(
                sweep_trials,
                runs.c.pk,
                run_state(cutoff).label("run_state"),
                runs.c.summary,
            )
            .select_from(
                sweep_trials.join(sweeps, sweeps.c.pk == sweep_trials.c.sweep_pk).outerjoin(
                    runs,
                    sa.and_(
                        runs.c.project_id == sweeps.c.project_id,
                        runs.c.run_id == sweep_trials.c.run_id,
                    ),
                )
            )
            .where(sweep_trials.c.sweep_pk == sweep.pk)
            .order_by(sweep_trials.c.trial_no)
        )
        with self.queries.reading() as conn:
            rows = conn.execute(query).all()
        return [self._trial(row, metric_name) for row in rows]

    @staticmethod
    def _trial(row: Any, metric_name: str | None) -> TrialRecord:
        m = row._mapping
        summary_value = metric_of(m["summary"], metric_name) if metric_name else None
        value = summary_value if summary_value is not None else m["metric_value"]
        return TrialRecord(
            trial_no=m["trial_no"],
            run_id=m["run_id"],
            params=m["params"],
            internal=m["suggestion"],
            grid_index=m["grid_index"],
            state=m["state"],
            exit_code=m["exit_code"],
            stop_reason=m["stop_reason"],
            error=m["error"],
            agent=m["agent"],
            created_at=m["created_at"],
            updated_at=m["updated_at"],
            run_pk=m["pk"],
            run_state=m["run_state"] if m["pk"] is not None else None,
            value=value,
        )

    def trial_of_run(
        self, entity: str, project: str, run_id: str
    ) -> tuple[SweepRecord, TrialRecord] | None:
        """The sweep and trial that run ``entity/project/run_id`` belongs to, if any."""
        query = (
            self._select()
            .add_columns(sweep_trials.c.trial_no)
            .join(sweep_trials, sweep_trials.c.sweep_pk == sweeps.c.pk)
            .where(
                projects.c.entity == entity,
                projects.c.name == project,
                sweep_trials.c.run_id == run_id,
            )
        )
        with self.queries.reading() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        sweep = SweepRecord(*row[:-1])
        for trial in self.trials(sweep):
            if trial.trial_no == row[-1]:
                return sweep, trial
        return None  # pragma: no cover - deleted in between

    def next_trial(self, sweep: SweepRecord, agent: str | None = None) -> NextTrial:
        """Hand out the sweep's next trial, or say why there is none."""
        sweep = self.get(sweep.entity, sweep.project, sweep.sweep_id)
        if sweep.state != "running":
            return NextTrial(None, sweep.state, _idle_reason(sweep))
        config = sweep.parsed
        suggestion: Suggestion | None = None
        if config.method != "grid":
            trials = self.trials(sweep)
            if config.metric is not None:
                for trial in trials:
                    if trial.value is not None and config.metric.reached(trial.value):
                        self._set_state(sweep, "finished")
                        return NextTrial(
                            None,
                            "finished",
                            f"Trial {trial.run_id} reached the target "
                            f"{config.metric.name} {config.metric.target:g}: the sweep is "
                            "finished.",
                        )
            suggestion = self._suggest(config, trials)
        now = time.time()
        with self.queries.writing() as conn:
            locked = conn.execute(
                sa.select(sweeps.c.state).where(sweeps.c.pk == sweep.pk).with_for_update()
            ).scalar_one()
            if locked != "running":
                return NextTrial(None, locked, _idle_reason(sweep, locked))
            count, last_grid = conn.execute(
                sa.select(
                    sa.func.count(sweep_trials.c.trial_no), sa.func.max(sweep_trials.c.grid_index)
                ).where(sweep_trials.c.sweep_pk == sweep.pk)
            ).one()
            if config.run_cap is not None and count >= config.run_cap:
                self._store_state(conn, sweep.pk, "finished", now)
                return NextTrial(
                    None,
                    "finished",
                    f"The sweep reached its run_cap of {config.run_cap} trials: it is finished.",
                )
            if config.method == "grid":
                index = 0 if last_grid is None else int(last_grid) + 1
                if index >= config.grid_size:
                    self._store_state(conn, sweep.pk, "finished", now)
                    return NextTrial(
                        None,
                        "finished",
                        f"Every one of the {config.grid_size} grid points has been handed "
                        "out: the sweep is finished.",
                    )
                suggestion = grid_suggestion(config, index)
            assert suggestion is not None
            from kiseki.sdk.names import generate_run_id

            trial_no = int(
                conn.scalar(
                    sa.select(sa.func.coalesce(sa.func.max(sweep_trials.c.trial_no), 0)).where(
                        sweep_trials.c.sweep_pk == sweep.pk
                    )
                )
                or 0
            )
            trial_no += 1
            row: dict[str, Any] = {
                "trial_no": trial_no,
                "run_id": generate_run_id(),
                "params": suggestion.params,
                "grid_index": suggestion.grid_index,
                "state": "running",
                "agent": agent,
                "created_at": now,
                "updated_at": now,
            }
            conn.execute(
                sweep_trials.insert().values(
                    sweep_pk=sweep.pk, suggestion=suggestion.internal, **row
                )
            )
        trial = TrialRecord(
            **row,
            internal=suggestion.internal,
            exit_code=None,
            stop_reason=None,
            error=None,
            run_pk=None,
            run_state=None,
            value=None,
        )
        return NextTrial(trial, "running", f"Trial {trial_no} of sweep {sweep.sweep_id}.")

    @staticmethod
    def _suggest(config: SweepConfig, trials: list[TrialRecord]) -> Suggestion:
        import numpy as np

        if config.method == "random":
            return random_suggestion(config, np.random.default_rng())
        finished = [
            FinishedTrial(t.internal, t.value)
            for t in trials
            if t.value is not None and t.effective_state == "finished" and math.isfinite(t.value)
        ]
        return bayes_suggestion(config, finished, seed=secrets.randbits(32))

    def report(
        self,
        sweep: SweepRecord,
        run_id: str,
        state: str,
        exit_code: int | None = None,
        error: str | None = None,
    ) -> TrialRecord:
        """Record how a trial ended (the agent's view: ``finished``, ``failed``, ...); a trial
        the sweep had stopped (cancel, hyperband) is recorded as ``killed`` whatever its
        process did on the way out."""
        if state not in TRIAL_STATES:
            raise UsageError(f"Trial state {state!r} is unknown: use one of {TRIAL_STATES}.")
        trial = self._trial_by_run(sweep, run_id)
        if trial.stop_reason is not None and state in ("finished", "failed"):
            state = "killed"
        values: dict[str, Any] = {
            "state": state,
            "exit_code": exit_code,
            "updated_at": time.time(),
            "metric_value": trial.value,
        }
        if error is not None:
            values["error"] = error[-4000:]
        with self.queries.writing() as conn:
            conn.execute(
                sweep_trials.update()
                .where(sweep_trials.c.sweep_pk == sweep.pk, sweep_trials.c.run_id == run_id)
                .values(**values)
            )
        return self._trial_by_run(sweep, run_id)

    def _trial_by_run(self, sweep: SweepRecord, run_id: str) -> TrialRecord:
        for trial in self.trials(sweep):
            if trial.run_id == run_id:
                return trial
        raise NotFoundError(f"Sweep {sweep.path} has no trial with run id {run_id}.")

    # -- control ----------------------------------------------------------------------------
    def control(self, sweep: SweepRecord, action: str) -> SweepRecord:
        """``pause``, ``resume``, ``stop`` (no new trials; running ones finish) or ``cancel``
        (no new trials, and running ones are stopped)."""
        if action not in CONTROL_ACTIONS:
            raise UsageError(
                f"Sweep action {action!r} is unknown: use one of {', '.join(CONTROL_ACTIONS)}."
            )
        sweep = self.get(sweep.entity, sweep.project, sweep.sweep_id)
        allowed = {
            "pause": ("running",),
            "resume": ("paused",),
            "stop": ("running", "paused"),
            "cancel": ("running", "paused", "finished"),
        }[action]
        if sweep.state not in allowed:
            raise UsageError(
                f"Sweep {sweep.path} is {sweep.state}: it cannot be {_past(action)} "
                f"(only a sweep that is {' or '.join(allowed)} can)."
            )
        target = {"pause": "paused", "resume": "running", "stop": "finished"}.get(
            action, "cancelled"
        )
        self._set_state(sweep, target)
        if action == "cancel":
            for trial in self.trials(sweep):
                reason = f"Stopped because sweep {sweep.sweep_id} was cancelled."
                self._stop_trial(sweep, trial, reason)
        return self.get(sweep.entity, sweep.project, sweep.sweep_id)

    def _set_state(self, sweep: SweepRecord, state: str) -> None:
        with self.queries.writing() as conn:
            self._store_state(conn, sweep.pk, state, time.time())

    @staticmethod
    def _store_state(conn: sa.Connection, pk: int, state: str, now: float) -> None:
        conn.execute(sweeps.update().where(sweeps.c.pk == pk).values(state=state, updated_at=now))

    def _stop_trial(self, sweep: SweepRecord, trial: TrialRecord, reason: str) -> bool:
        """Ask a live trial's run to stop and record why; ``False`` when it was not live."""
        if trial.state != "running" or (
            trial.run_state is not None and trial.run_state not in LIVE_STATES
        ):
            return False
        with self.queries.writing() as conn:
            conn.execute(
                sweep_trials.update()
                .where(
                    sweep_trials.c.sweep_pk == sweep.pk,
                    sweep_trials.c.trial_no == trial.trial_no,
                )
                .values(stop_reason=reason, updated_at=time.time())
            )
        if trial.run_pk is not None:
            try:
                label = f"{sweep.entity}/{sweep.project}/{trial.run_id}"
                request_stop(self.queries, trial.run_pk, label)
            except (UsageError, NotFoundError):
                return False
        return True

    def _deliver_pending_stop(self, sweep: SweepRecord, trial: TrialRecord) -> bool:
        if trial.stop_reason is None or trial.state != "running" or trial.run_pk is None:
            return False
        if trial.run_state != "running":
            return False
        with self.queries.reading() as conn:
            asked = conn.scalar(sa.select(runs.c.stop_requested).where(runs.c.pk == trial.run_pk))
        if asked:
            return False
        try:
            label = f"{sweep.entity}/{sweep.project}/{trial.run_id}"
            request_stop(self.queries, trial.run_pk, label)
        except (UsageError, NotFoundError):
            return False
        return True

    # -- early termination ------------------------------------------------------------------
    def metric_histories(self, sweep: SweepRecord) -> dict[str, list[float]]:
        """Each started trial's logged values of the sweep metric, in step order."""
        config = sweep.parsed
        assert config.metric is not None
        histories: dict[str, list[float]] = {}
        for trial in self.trials(sweep):
            if trial.run_pk is None:
                continue
            rows = self.queries.history(trial.run_pk).scan(keys=[config.metric.name])
            histories[trial.run_id] = [_as_float(row[config.metric.name]) for row in rows]
        return histories

    def check_early_stop(self, sweep: SweepRecord) -> list[TrialRecord]:
        """Deliver pending stops (a trial stopped before its run had started) and apply the
        sweep's hyperband rule to the running trials; returns the trials stopped now."""
        sweep = self.get(sweep.entity, sweep.project, sweep.sweep_id)
        trials = {t.run_id: t for t in self.trials(sweep)}
        stopped = [t for t in trials.values() if self._deliver_pending_stop(sweep, t)]
        config = sweep.parsed
        if config.early_terminate is None or config.metric is None:
            return stopped
        running = {
            run_id
            for run_id, t in trials.items()
            if t.state == "running" and t.stop_reason is None and t.run_state == "running"
        }
        if not running:
            return stopped
        decisions = hyperband_stops(
            self.metric_histories(sweep), running, config.early_terminate, config.metric
        )
        for decision in decisions:
            if self._stop_trial(sweep, trials[decision.run_id], decision.reason):
                stopped.append(self._trial_by_run(sweep, decision.run_id))
        return stopped


def _as_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _past(action: str) -> str:
    return {"pause": "paused", "resume": "resumed", "stop": "stopped"}.get(action, "cancelled")


def _idle_reason(sweep: SweepRecord, state: str | None = None) -> str:
    state = state or sweep.state
    if state == "paused":
        return f"Sweep {sweep.sweep_id} is paused: resume it with `kiseki sweep --resume`."
    if state == "cancelled":
        return f"Sweep {sweep.sweep_id} was cancelled."
    return f"Sweep {sweep.sweep_id} is finished: it hands out no more trials."
