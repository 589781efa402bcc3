"""Turn the hyperparameter objects that training libraries hand over into plain config values."""

from __future__ import annotations

import argparse
import enum
import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

_MAX_DEPTH = 8


def plain_config(value: Any, depth: int = 0) -> Any:
    """``value`` as something ``run.config`` accepts: JSON-like scalars, string-keyed dicts and
    lists; anything else becomes its ``str()`` (a class or function its qualified name).

    Libraries put enums, paths, dtypes, tensors and callables in their hyperparameters; the
    tracker must record them readably rather than refuse them and stop the training script.

    >>> plain_config({"lr": 0.1, "path": PurePath("a/b"), 3: [1, 2]})
    {'lr': 0.1, 'path': 'a/b', '3': [1, 2]}
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, enum.Enum):
        return plain_config(value.value, depth)
    if isinstance(value, PurePath):
        return str(value)
    if depth >= _MAX_DEPTH:
        return str(value)
    if isinstance(value, argparse.Namespace):
        value = vars(value)
    if isinstance(value, Mapping):
        return {str(key): plain_config(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain_config(item, depth + 1) for item in value]
    item = getattr(value, "item", None)  # NumPy scalars and one-element tensors
    if callable(item) and getattr(value, "ndim", None) == 0:
        try:
            return plain_config(item(), depth + 1)
        except (TypeError, ValueError, RuntimeError):
            return str(value)
    if isinstance(value, type) or callable(value):
        module = getattr(value, "__module__", None)
        name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
        if name:
            return f"{module}.{name}" if module else str(name)
    return str(value)


def plain_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Metric values as Python numbers: one-element tensors and NumPy scalars are unwrapped,
    everything else is kept for ``run.log`` to judge."""
    result = {}
    for key, value in metrics.items():
        item = getattr(value, "item", None)
        if callable(item) and getattr(value, "ndim", None) == 0:
            value = item()
        result[str(key)] = value
    return result
