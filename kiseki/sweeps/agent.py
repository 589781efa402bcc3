"""``kiseki.sweep()`` and ``kiseki.agent()``: create a sweep, and run its trials.

An agent asks the store (or the server) for the sweep's next trial, runs it, reports how it
ended, and asks again, until the sweep is finished or cancelled or ``count`` trials ran. While
the sweep is paused it waits. A trial runs in one of two ways:

* **function mode** (``function=train``): ``train()`` is called in this process; the
  ``kiseki.init()`` it makes becomes the trial's run (id, project, locked parameters);
* **program mode** (no function): the config's ``command`` is run with its macros expanded
  (see :mod:`kiseki.sweeps.macros`) and ``KISEKI_SWEEP_ID``, ``KISEKI_RUN_ID``,
  ``KISEKI_PROJECT``, ``KISEKI_ENTITY`` and ``KISEKI_SWEEP_PARAM_PATH`` in its environment.

A failing or crashing trial is recorded and the agent carries on; but when the first
:data:`MAX_FAILURES_AT_START` trials of an agent all fail, it stops with
:class:`AgentStoppedError`: something is wrong with the program, not with the parameters.
While a trial runs, the agent applies the sweep's early termination every
``early_stop_interval`` seconds (and delivers stops of trials whose runs had not started when
the sweep was cancelled).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiseki.errors import KisekiError, UsageError
from kiseki.settings import Settings, resolve_settings
from kiseki.sweeps.client import SweepClient, open_sweeps, resolve_sweep
from kiseki.sweeps.config import parse_sweep_config
from kiseki.sweeps.macros import expand_command
from kiseki.sweeps.store import SweepRecord, TrialRecord
from kiseki.sweeps.trial import TrialContext, trial_scope

MAX_FAILURES_AT_START = 5
"""Consecutive failed trials, before any succeeded, that stop an agent."""
PAUSED_POLL_S = 2.0
EARLY_STOP_INTERVAL_S = 5.0
KILL_GRACE_S = 30.0
"""How long a program-mode trial stopped by the sweep may take to exit before it is
terminated (it learns of the stop at its next heartbeat)."""


class AgentStoppedError(KisekiError):
    """An agent stopped because its first trials all failed."""


@dataclass
class AgentReport:
    """What an agent did: how many trials it ran, how many failed, and why it stopped."""

    trials: int = 0
    failed: int = 0
    reason: str = ""


def sweep(
    sweep: Any, project: str | None = None, entity: str | None = None, *, quiet: bool = False
) -> str:
    """Create a sweep from a config dict or a YAML file path; returns its id.

    >>> sweep_id = kiseki.sweep({"method": "random", "parameters": {"lr": {"min": 0.0,
    ...     "max": 0.1}}}, project="mnist")                                # doctest: +SKIP
    """
    config = parse_sweep_config(sweep)
    settings = resolve_settings(
        {
            "project": project or config.raw.get("project"),
            "entity": entity or config.raw.get("entity"),
        }
    )
    from kiseki.sdk.session import DEFAULT_PROJECT

    client = open_sweeps(settings)
    try:
        record = client.create(settings.project or DEFAULT_PROJECT, config)
    finally:
        client.close()
    if not (quiet or settings.silent):
        print(
            f"kiseki: created sweep {record.sweep_id} ({config.method}) in "
            f"{record.entity}/{record.project}.\n"
            f"kiseki: run an agent with: kiseki agent {record.path}",
            file=sys.stderr,
        )
    return record.sweep_id


def agent(
    sweep_id: str,
    function: Callable[[], Any] | None = None,
    count: int | None = None,
    project: str | None = None,
    entity: str | None = None,
) -> AgentReport:
    """Run trials of sweep ``sweep_id`` (``ID``, ``PROJECT/ID`` or ``ENTITY/PROJECT/ID``):
    ``function()`` in this process, or the sweep's ``program``; at most ``count`` of them.

    >>> kiseki.agent(sweep_id, function=train, count=10)   # doctest: +SKIP
    """
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise UsageError(f"count must be a positive number of trials, not {count!r}.")
    if function is not None and not callable(function):
        raise UsageError(f"function must be callable (your training function), not {function!r}.")
    settings = resolve_settings({"project": project, "entity": entity})
    client = open_sweeps(settings)
    try:
        record = resolve_sweep(client, sweep_id, project, entity)
        return SweepAgent(client, record, settings, function=function, count=count).run()
    finally:
        client.close()


class SweepAgent:
    """Runs trials of one sweep until it is done (see the module's description)."""

    def __init__(
        self,
        client: SweepClient,
        sweep: SweepRecord,
        settings: Settings,
        *,
        function: Callable[[], Any] | None = None,
        count: int | None = None,
        early_stop_interval: float = EARLY_STOP_INTERVAL_S,
        paused_poll: float = PAUSED_POLL_S,
    ) -> None:
        self.client = client
        self.sweep = sweep
        self.config = parse_sweep_config(sweep.config)
        self.settings = settings
        self.function = function
        self.count = count
        self.early_stop_interval = early_stop_interval
        self.paused_poll = paused_poll
        self.name = f"{socket.gethostname()}-{os.getpid()}"
        self._stopped: set[str] = set()
        if (
            function is None
            and self.config.program is None
            and "${program}" in " ".join(self.config.command)
        ):
            raise UsageError(
                f"Sweep {sweep.path} has no `program` to run: pass function= to kiseki.agent(), "
                "or add program: train.py to the sweep config."
            )

    def _say(self, message: str) -> None:
        if not self.settings.silent:
            print(f"kiseki agent: {message}", file=sys.stderr)

    def run(self) -> AgentReport:
        """Run trials until the sweep ends or ``count`` ran; returns what happened."""
        report = AgentReport()
        failures_at_start = 0
        succeeded_once = False
        while self.count is None or report.trials < self.count:
            answer = self.client.next_trial(self.sweep, self.name)
            if answer.trial is None:
                if answer.state == "paused":
                    time.sleep(self.paused_poll)
                    continue
                report.reason = answer.reason
                break
            trial = answer.trial
            self._say(f"trial {trial.trial_no}: run {trial.run_id} with {trial.params}")
            state, exit_code, error = self._run_trial(trial)
            state = self.client.report(self.sweep, trial.run_id, state, exit_code, error)
            report.trials += 1
            if state == "failed":
                report.failed += 1
                self._say(f"trial {trial.trial_no} failed: {(error or '').strip()[-500:]}")
                if not succeeded_once:
                    failures_at_start += 1
                    if failures_at_start >= MAX_FAILURES_AT_START:
                        raise AgentStoppedError(
                            f"The first {failures_at_start} trials of this agent on sweep "
                            f"{self.sweep.path} all failed, so it stopped: the program or "
                            "function itself is probably broken, not the parameters. Fix it "
                            "and start the agent again. The last error was:\n"
                            f"{(error or 'unknown').strip()[-1000:]}"
                        )
            else:
                succeeded_once = True
        else:
            report.reason = f"ran the {self.count} trial(s) it was asked for."
        self._say(f"done: {report.reason}")
        return report

    # -- one trial --------------------------------------------------------------------------
    def _run_trial(self, trial: TrialRecord) -> tuple[str, int | None, str | None]:
        if self.function is not None:
            return self._run_function(trial)
        return self._run_program(trial)

    def _check_early_stop(self) -> None:
        try:
            self._stopped.update(self.client.check_early_stop(self.sweep))
        except KisekiError as exc:  # a store or server hiccup must not end the trial
            self._say(f"early-termination check failed ({exc}); trying again later.")

    def _run_function(self, trial: TrialRecord) -> tuple[str, int | None, str | None]:
        from kiseki.sdk import session

        assert self.function is not None
        context = TrialContext(
            self.sweep.sweep_id, trial.run_id, self.sweep.project, self.sweep.entity, trial.params
        )
        done = threading.Event()

        def watch() -> None:
            while not done.wait(self.early_stop_interval):
                self._check_early_stop()

        watcher = threading.Thread(target=watch, name="kiseki-sweep-watch", daemon=True)
        watcher.start()
        error: str | None = None
        interrupted = False
        try:
            with trial_scope(context):
                self.function()
        except KeyboardInterrupt:
            interrupted = True
            error = "interrupted (KeyboardInterrupt)"
        except Exception:
            error = traceback.format_exc()
        finally:
            done.set()
            watcher.join()
        run = session.current_run()
        started = run is not None and run.id == trial.run_id
        stopped = trial.run_id in self._stopped
        if started and run is not None:
            stopped = stopped or run._stop_requested
            run.finish(exit_code=1 if error else 0, quiet=True)
        if interrupted:
            raise KeyboardInterrupt
        if stopped:
            return "killed", None, error
        if error is not None:
            return "failed", 1, error
        if not started:
            return (
                "failed",
                None,
                "The function returned without calling kiseki.init(), so the trial has no "
                "run: call kiseki.init() in it and read the parameters from run.config.",
            )
        return "finished", 0, None

    def _run_program(self, trial: TrialRecord) -> tuple[str, int | None, str | None]:
        with tempfile.TemporaryDirectory(prefix="kiseki-trial-") as scratch:
            params_file = Path(scratch) / "params.json"
            params_file.write_text(json.dumps(trial.params), encoding="utf-8")
            env = dict(os.environ)
            env.update(
                {
                    "KISEKI_SWEEP_ID": self.sweep.sweep_id,
                    "KISEKI_RUN_ID": trial.run_id,
                    "KISEKI_PROJECT": self.sweep.project,
                    "KISEKI_ENTITY": self.sweep.entity,
                    "KISEKI_SWEEP_PARAM_PATH": str(params_file),
                    "KISEKI_STOP_RAISES": "true",
                }
            )
            if not self.settings.remote:
                env["KISEKI_DIR"] = str(self.settings.kiseki_dir)
            argv = expand_command(
                self.config.command,
                program=self.config.program,
                params=trial.params,
                args_json_file=str(params_file),
                environ=env,
            )
            try:
                process = subprocess.Popen(argv, env=env)
            except OSError as exc:
                return "failed", None, f"Cannot start {argv}: {exc}"
            code = self._wait(process, trial)
        if trial.run_id in self._stopped:
            return "killed", code, None
        if code != 0:
            return "failed", code, f"{' '.join(argv)} exited with code {code}."
        return "finished", 0, None

    def _wait(self, process: subprocess.Popen[bytes], trial: TrialRecord) -> int:
        next_check = time.monotonic() + self.early_stop_interval
        stopped_at: float | None = None
        while True:
            try:
                return process.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                pass
            now = time.monotonic()
            if now >= next_check:
                self._check_early_stop()
                next_check = now + self.early_stop_interval
            if trial.run_id in self._stopped and stopped_at is None:
                stopped_at = now
            if stopped_at is not None and now - stopped_at > KILL_GRACE_S:
                process.terminate()
