"""Hyperband early termination: which running trials to stop at the bracket iterations.

An *iteration* is one logged value of the sweep's metric (the n-th value is iteration n). At
each bracket iteration ``b`` a trial's score is the best value among its first ``b`` values
(with ``strict``: its ``b``-th value itself, so a trial that got worse is judged on that).
Among all trials that reached ``b`` (finished ones included), the best ``ceil(n / eta)`` keep
going; a running trial scoring worse than the last of them is stopped. Without ``strict``
nothing is stopped at ``b`` before ``eta`` trials reached it (too little evidence); with
``strict`` two trials suffice.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from kiseki.sweeps.config import Hyperband, SweepMetric


@dataclass(frozen=True)
class StopDecision:
    """A trial to stop and why (said on its run page)."""

    run_id: str
    band: int
    score: float
    threshold: float
    reason: str


def _score(values: Sequence[float], band: int, metric: SweepMetric, strict: bool) -> float:
    head = [v for v in values[:band] if math.isfinite(v)]
    if strict or not head:
        return values[band - 1]
    return min(head) if metric.goal == "minimize" else max(head)


def hyperband_stops(
    histories: Mapping[str, Sequence[float]],
    running: Set[str],
    rule: Hyperband,
    metric: SweepMetric,
) -> list[StopDecision]:
    """The running trials (``running`` run ids) to stop, given every trial's metric values in
    logging order (``histories``: run id -> values)."""
    decisions: dict[str, StopDecision] = {}
    minimum = 2 if rule.strict else max(2, math.ceil(rule.eta))
    for band in rule.bands:
        scores = {
            run_id: _score(values, band, metric, rule.strict)
            for run_id, values in histories.items()
            if len(values) >= band
        }
        if len(scores) < minimum:
            continue
        ordered = sorted(
            (s for s in scores.values() if not math.isnan(s)),
            reverse=metric.goal == "maximize",
        )
        keep = max(1, math.ceil(len(scores) / rule.eta))
        if not ordered:
            continue
        threshold = ordered[min(keep, len(ordered)) - 1]
        for run_id, score in scores.items():
            if run_id not in running or run_id in decisions:
                continue
            if math.isnan(score) or metric.better(threshold, score):
                decisions[run_id] = StopDecision(
                    run_id,
                    band,
                    score,
                    threshold,
                    f"Stopped early by the sweep's hyperband rule: at iteration {band} its "
                    f"{metric.name} was {score:.6g}, worse than {threshold:.6g}, the "
                    f"threshold of the best {keep} of {len(scores)} trials (eta {rule.eta:g}).",
                )
    return list(decisions.values())
