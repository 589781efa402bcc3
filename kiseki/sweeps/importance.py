"""Parameter importance for a sweep's page: correlation with the metric and a tree ensemble.

Each parameter becomes one numeric feature (numbers as they are, booleans as 0/1, other values
as the index of their first appearance); ``correlation`` is Pearson's r with the metric, and
``importance`` the feature importance of scikit-learn's ``ExtraTreesRegressor`` fitted on all
parameters (it sees interactions and non-monotone effects that a correlation misses).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

MIN_TRIALS = 3
"""Fewer trials with a metric than this give no importance."""


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameters as ``{"optimizer.lr": 0.1}``."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_params(value, name + "."))
        else:
            flat[name] = value
    return flat


def _encode(values: Sequence[Any]) -> list[float]:
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values]
    if all(isinstance(v, bool) for v in values):
        return [float(v) for v in values]
    codes: dict[str, int] = {}
    return [float(codes.setdefault(repr(v), len(codes))) for v in values]


def _pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 0 or syy <= 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / math.sqrt(sxx * syy)


def parameter_importance(
    trials: Sequence[tuple[Mapping[str, Any], float]], seed: int = 0
) -> list[dict[str, Any]]:
    """``[{"param", "correlation", "importance"}]`` for trials given as (params, metric value),
    most important first; empty with fewer than :data:`MIN_TRIALS` usable trials."""
    rows = [(flatten_params(p), v) for p, v in trials if v is not None and math.isfinite(v)]
    if len(rows) < MIN_TRIALS:
        return []
    names = sorted({name for flat, _ in rows for name in flat})
    names = [n for n in names if all(n in flat for flat, _ in rows)]
    if not names:
        return []
    ys = [v for _, v in rows]
    columns = {n: _encode([flat[n] for flat, _ in rows]) for n in names}
    from sklearn.ensemble import ExtraTreesRegressor

    features = [[columns[n][i] for n in names] for i in range(len(rows))]
    model = ExtraTreesRegressor(n_estimators=100, random_state=seed, n_jobs=1)
    model.fit(features, ys)
    importances = [float(x) for x in model.feature_importances_]
    result = [
        {"param": n, "correlation": _pearson(columns[n], ys), "importance": imp}
        for n, imp in zip(names, importances, strict=True)
    ]
    result.sort(key=lambda r: -r["importance"])
    return result
