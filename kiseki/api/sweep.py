"""``Api().sweep(path)``: a sweep with its runs, its best run, its config and state."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from kiseki.errors import NotFoundError
from kiseki.sweeps.store import SweepRecord, SweepStore, TrialRecord, metric_of

if TYPE_CHECKING:
    from kiseki.api.api import Api
    from kiseki.api.run import Run


class Sweep:
    """One sweep, as ``kiseki.Api().sweep("project/sweep_id")`` returns it.

    Attributes: ``id name entity project method config state`` and ``trials`` (one dict per
    trial: ``run_id params state value stop_reason ...``); :attr:`runs` are the trials' runs
    (trials whose run never started have none) and :meth:`best_run` the one with the best
    value of the sweep's metric.

    >>> sweep = kiseki.Api().sweep("mnist/abc123")     # doctest: +SKIP
    >>> sweep.best_run().config["lr"]                  # doctest: +SKIP
    """

    def __init__(self, api: Api, record: SweepRecord, trials: list[dict[str, Any]]) -> None:
        self._api = api
        self.id = record.sweep_id
        self.name = record.name
        self.entity = record.entity
        self.project = record.project
        self.method = record.method
        self.config: dict[str, Any] = record.config
        self.state = record.state
        self.trials = trials
        self._runs: list[Run] | None = None

    @property
    def path(self) -> str:
        """``entity/project/sweep_id``."""
        return f"{self.entity}/{self.project}/{self.id}"

    @property
    def runs(self) -> list[Run]:
        """The runs of the sweep's trials, in trial order."""
        if self._runs is None:
            found = []
            for trial in self.trials:
                try:
                    found.append(self._api.run(f"{self.entity}/{self.project}/{trial['run_id']}"))
                except NotFoundError:  # the trial failed before its run started
                    continue
            self._runs = found
        return self._runs

    def best_run(self) -> Run | None:
        """The run with the best value of the sweep's metric (``None`` when no run has one)."""
        metric = self.config.get("metric") or {}
        name = metric.get("name")
        if not name:
            return None
        maximize = metric.get("goal") == "maximize"
        best: tuple[float, Run] | None = None
        for run in self.runs:
            value = metric_of(dict(run.summary), name)
            if value is None or math.isnan(value):
                continue
            if best is None or (value > best[0] if maximize else value < best[0]):
                best = (value, run)
        return best[1] if best else None

    def __repr__(self) -> str:
        return f"<Sweep {self.path} ({self.state}, {len(self.trials)} trials)>"


def load_sweep(api: Api, entity: str, project: str, sweep_id: str) -> Sweep:
    """Read a sweep through ``api`` (its embedded store or its server)."""
    queries = api._require_store(f"No sweep {entity}/{project}/{sweep_id}")
    client = getattr(queries, "client", None)
    if client is not None:  # a server
        from urllib.parse import quote

        from kiseki.sweeps.client import sweep_from_json

        path = "/".join(quote(p, safe="") for p in (entity, project, sweep_id))
        data = client.request("GET", f"/api/v1/sweeps/{path}").data
        return Sweep(api, sweep_from_json(data["sweep"]), list(data["trials"]))
    store = SweepStore(queries)  # type: ignore[arg-type]
    record = store.get(entity, project, sweep_id)
    trials: list[TrialRecord] = store.trials(record)
    return Sweep(api, record, [t.to_json() for t in trials])
