"""What the web app's pages and scripts receive: runs and projects as plain JSON-able dicts.

Values a browser's JSON cannot hold are made displayable here: NaN and ±inf become the
strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``, integers beyond 2**53 become strings of
digits (JavaScript numbers would round them). Nested config and summary dicts are flattened
to *field paths*, the names the run filters use (``optimizer.lr``, with a literal dot in a key
written ``\\.``), so a column shown in the sidebar can be filtered and sorted on as it is.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from kiseki.media.references import described_media
from kiseki.server.service import Viewer
from kiseki.store.queries import ProjectRecord, RunRecord

_SAFE_INT = 2**53
_SPECIAL_FLOATS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
STATES = ("running", "finished", "failed", "crashed", "killed")
"""Run states, in the order the web app lists them."""


def plain(value: Any) -> Any:
    """``value`` with non-finite floats and huge integers turned into strings, recursively.

    >>> plain({"a": float("nan"), "b": [2**60, 1.5]})
    {'a': 'NaN', 'b': ['1152921504606846976', 1.5]}
    """
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else _SPECIAL_FLOATS[repr(value)]
    if kind is int:
        return value if -_SAFE_INT < value < _SAFE_INT else str(value)
    if kind is dict:
        return {str(k): plain(v) for k, v in value.items()}
    if kind in (list, tuple):
        return [plain(v) for v in value]
    if value is None or kind in (str, bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    return str(value)


def field_part(key: str) -> str:
    """A key as one part of a field path (a literal dot written ``\\.``)."""
    return key.replace(".", "\\.")


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts flattened to field paths, leaves made :func:`plain`.

    >>> flatten({"optimizer": {"lr": 0.1}, "val.acc": 0.9})
    {'optimizer.lr': 0.1, 'val\\\\.acc': 0.9}
    """
    flat: dict[str, Any] = {}
    for key, value in values.items():
        text = key if type(key) is str else str(key)
        path = prefix + (field_part(text) if "." in text else text)
        kind = type(value)
        if kind in _LEAF_TYPES:  # the common case, without the slower Mapping check
            flat[path] = plain(value)
        elif (kind is dict or isinstance(value, Mapping)) and value:
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = plain(value)
    return flat


_LEAF_TYPES = frozenset({float, int, str, bool, type(None), list})


def run_row(run: RunRecord) -> dict[str, Any]:
    """One run as the workspace's sidebar and runs table show it."""
    return {
        "id": run.run_id,
        "name": run.name,
        "state": run.state,
        "created_at": run.created_at,
        "heartbeat_at": run.heartbeat_at,
        "runtime": run.runtime,
        "last_step": run.last_step,
        "tags": list(run.tags),
        "group": run.group,
        "job_type": run.job_type,
        "author": run.author,
        "stop_requested": bool(getattr(run, "stop_requested", False)),
        "config": flatten(_visible_config(run.config)),
        "summary": flatten({k: v for k, v in run.summary.items() if not k.startswith("_")}),
        "meta": table_metadata(run.metadata),
    }


METADATA_COLUMNS = (
    ("host", ("host",)),
    ("os", ("os",)),
    ("python", ("python",)),
    ("program", ("program",)),
    ("git.commit", ("git", "commit")),
    ("git.branch", ("git", "branch")),
    ("kiseki_version", ("kiseki_version",)),
)
"""The run metadata the runs table can show: column name and where it is in the metadata."""


def table_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`METADATA_COLUMNS` a run's metadata has, as plain values.

    >>> table_metadata({"host": "box", "git": {"commit": "abc"}, "cpu": {"count": 8}})
    {'host': 'box', 'git.commit': 'abc'}
    """
    found: dict[str, Any] = {}
    for column, path in METADATA_COLUMNS:
        value: Any = metadata
        for part in path:
            value = value.get(part) if isinstance(value, Mapping) else None
        if value is not None and not isinstance(value, (Mapping, list)):
            found[column] = plain(value)
    return found


def run_detail(run: RunRecord, can_write: bool, now: float | None = None) -> dict[str, Any]:
    """One run with everything its Overview shows (nested config and summary kept nested)."""
    now = time.time() if now is None else now
    row = run_row(run)
    row.update(
        {
            "entity": run.entity,
            "project": run.project,
            "notes": run.notes,
            "privacy": getattr(run, "privacy", "private"),
            "exit_code": run.exit_code,
            "finished_at": run.finished_at,
            "updated_at": run.updated_at,
            "heartbeat_age": max(0.0, now - run.heartbeat_at),
            "duration": duration(run, now),
            "metadata": plain(run.metadata),
            "config_tree": plain(_visible_config(run.config)),
            "summary_tree": plain(
                described_media({k: v for k, v in run.summary.items() if not k.startswith("_")})
            ),
            "can_write": can_write,
        }
    )
    return row


def duration(run: RunRecord, now: float) -> float:
    """Seconds the run ran (so far, for a running run)."""
    if run.state == "running":
        return max(run.runtime, now - run.created_at) if run.runtime else now - run.created_at
    if run.runtime:
        return run.runtime
    end = run.finished_at or run.heartbeat_at
    return max(0.0, end - run.created_at)


def project_row(project: ProjectRecord) -> dict[str, Any]:
    """One project as the home page lists it."""
    return {
        "entity": project.entity,
        "name": project.name,
        "run_count": project.run_count,
        "created_at": project.created_at,
        "last_activity": project.last_activity,
    }


def viewer_info(viewer: Viewer) -> dict[str, Any]:
    """What the pages may show about who is looking."""
    return {"username": viewer.username, "anonymous": viewer.is_anonymous}


def columns(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """The config and summary field paths and the metadata columns present in ``rows``
    (config and summary sorted, metadata in :data:`METADATA_COLUMNS` order; for pickers)."""
    config: set[str] = set()
    summary: set[str] = set()
    meta: set[str] = set()
    for row in rows:
        config.update(row["config"])
        summary.update(row["summary"])
        meta.update(row.get("meta", ()))
    return {
        "config": sorted(config, key=str.lower),
        "summary": sorted(summary, key=str.lower),
        "meta": [name for name, _ in METADATA_COLUMNS if name in meta],
    }


def comparison(found: Iterable[RunRecord]) -> dict[str, Any]:
    """Runs side by side: each config and summary field with every run's value and whether
    they differ (a field some runs lack differs)."""
    rows = [run_row(r) for r in found]
    out: dict[str, Any] = {
        "runs": [{"id": r["id"], "name": r["name"], "state": r["state"]} for r in rows]
    }
    for part in ("config", "summary"):
        fields = sorted({f for r in rows for f in r[part]}, key=str.lower)
        out[part] = [
            _compared(field, [r[part].get(field, _MISSING) for r in rows]) for field in fields
        ]
    return out


_MISSING = object()


def _compared(field: str, values: list[Any]) -> dict[str, Any]:
    keys = {orjson.dumps(v) if v is not _MISSING else b"" for v in values}
    return {
        "field": field,
        "values": [None if v is _MISSING else v for v in values],
        "present": [v is not _MISSING for v in values],
        "differs": len(keys) > 1,
    }


def _visible_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Config without kiseki's and wandb's internal keys (``_wandb``, ``_kiseki``)."""
    return {k: _unwrap(v) for k, v in config.items() if not k.startswith("_")}


def _unwrap(value: Any) -> Any:
    # wandb-style config exports store {"value": x, "desc": ...}; show the value
    if isinstance(value, Mapping) and set(value) in ({"value"}, {"value", "desc"}):
        return value["value"]
    return value


def dumps(value: Any) -> bytes:
    """JSON bytes for a response (NaN written as ``null``, numpy arrays allowed)."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
