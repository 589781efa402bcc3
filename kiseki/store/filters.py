"""MongoDB-style run filters and sort orders, compiled to SQLAlchemy expressions.

The same filter works on SQLite and PostgreSQL::

    {"$and": [{"config.optimizer.lr": {"$lt": 0.01}}, {"summary_metrics.train/loss": {"$lt": 1}}]}

Fields are the run's columns (``id``, ``state``, ``display_name``, ``tags``, ``created_at``, ...)
and paths into its JSON columns: ``config.<path>`` and ``summary_metrics.<path>`` (alias
``summary.<path>``), where dots separate nested keys and a backslash keeps a dot literal
(``summary_metrics.val\\.acc``). A comparison on a JSON path only matches values of the
operand's JSON type (a number never equals the string ``"1"``), and a missing key matches
``$ne``, ``$nin`` and ``{"$exists": False}`` but no other operator, as in MongoDB.

``state`` is the state a run *reads* as: a ``running`` run whose heartbeat is older than the
heartbeat timeout is ``crashed`` (see :func:`run_state`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from kiseki.errors import UsageError
from kiseki.store.schema import runs

LOGICAL_OPERATORS = ("$and", "$or")
FIELD_OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$regex", "$exists")
_COMPARISONS = {"$gt": "__gt__", "$gte": "__ge__", "$lt": "__lt__", "$lte": "__le__"}
_TAG_OPERATORS = ("$eq", "$ne", "$in", "$nin", "$regex")

# name -> (kind, column); kinds: "text", "number", "time"
_COLUMN_FIELDS: dict[str, tuple[str, Any]] = {
    "id": ("text", runs.c.run_id),
    "display_name": ("text", runs.c.name),
    "name": ("text", runs.c.name),
    "displayName": ("text", runs.c.name),
    "group": ("text", runs.c.group_name),
    "job_type": ("text", runs.c.job_type),
    "jobType": ("text", runs.c.job_type),
    "notes": ("text", runs.c.notes),
    "author": ("text", runs.c.author),
    "username": ("text", runs.c.author),
    "created_at": ("time", runs.c.created_at),
    "createdAt": ("time", runs.c.created_at),
    "heartbeat_at": ("time", runs.c.heartbeat_at),
    "heartbeatAt": ("time", runs.c.heartbeat_at),
    "updated_at": ("time", runs.c.updated_at),
    "finished_at": ("time", runs.c.finished_at),
    "runtime": ("number", runs.c.runtime),
    "exit_code": ("number", runs.c.exit_code),
    "last_step": ("number", runs.c.last_step),
    "history_rows": ("number", runs.c.history_rows),
}
_JSON_PREFIXES = {
    "config": runs.c.config,
    "summary_metrics": runs.c.summary,
    "summary": runs.c.summary,
}
FIELDS = (
    "id",
    "state",
    "display_name",
    "tags",
    "created_at",
    "heartbeat_at",
    "updated_at",
    "finished_at",
    "group",
    "job_type",
    "notes",
    "author",
    "runtime",
    "exit_code",
    "last_step",
    "history_rows",
    "config.<key>",
    "summary_metrics.<key>",
)
"""The fields a filter or an order may name; also accepted: ``name``, ``displayName``,
``jobType``, ``createdAt``, ``heartbeatAt``, ``username`` and ``summary.<key>``."""

_SQLITE_TYPE_RANKS = {"integer": 0, "real": 0, "text": 1, "true": 2, "false": 2}
_PG_TYPE_RANKS = {"number": 0, "string": 1, "boolean": 2}
_DOT = re.compile(r"(?<!\\)\.")


def run_state(cutoff: float) -> sa.ColumnElement[str]:
    """The state a run reads as: ``crashed`` when it is ``running`` but its last heartbeat is
    older than ``cutoff`` (epoch seconds), else its stored state.

    >>> import time
    >>> expression = run_state(time.time() - 60.0)
    """
    return sa.case(
        (sa.and_(runs.c.state == "running", runs.c.heartbeat_at < cutoff), "crashed"),
        else_=runs.c.state,
    )


@dataclass(frozen=True)
class RunField:
    """A field named in a filter or an order, resolved to what the store holds."""

    name: str
    kind: str  # "text", "number", "time", "state", "tags" or "json"
    expr: Any
    nullable: bool = True
    path: tuple[str, ...] = ()


def to_epoch(value: Any, field: str = "created_at") -> float:
    """Epoch seconds from a number, a ``datetime`` or an ISO-8601 string (naive means UTC).

    >>> to_epoch("1970-01-02T00:00:00Z")
    86400.0
    """
    if isinstance(value, bool):
        pass
    elif isinstance(value, (int, float)):
        return float(value)
    elif isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return float(value.timestamp())
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return to_epoch(datetime.fromisoformat(text), field)
        except ValueError:
            pass
    raise UsageError(
        f"{field} compares to epoch seconds, a datetime or an ISO-8601 string such as "
        f"'2024-05-01T12:00:00Z', not {value!r}."
    )


class RunQueryCompiler:
    """Compiles filters and orders over the ``runs`` table for one SQL dialect.

    ``cutoff`` is the heartbeat time (epoch seconds) before which a ``running`` run reads as
    ``crashed``.

    >>> compiler = RunQueryCompiler("sqlite", cutoff=0.0)
    >>> where = compiler.where({"state": "finished", "config.lr": {"$lt": 0.1}})
    >>> order = compiler.order_by("-summary_metrics.train/loss")
    """

    def __init__(self, dialect: str, cutoff: float) -> None:
        self.dialect = dialect
        self.state = run_state(cutoff)

    # -- fields ----------------------------------------------------------------------------
    def field(self, name: str) -> RunField:
        """Resolve a field name; :class:`UsageError` lists the valid ones when it is unknown."""
        if not isinstance(name, str):
            raise UsageError(f"A field name must be a string, not {name!r}.")
        if name == "state":
            return RunField(name, "state", self.state, nullable=False)
        if name == "tags":
            return RunField(name, "tags", runs.c.tags, nullable=False)
        if name in _COLUMN_FIELDS:
            kind, column = _COLUMN_FIELDS[name]
            return RunField(name, kind, column, nullable=column.nullable)
        head, _, rest = name.partition(".")
        if head in _JSON_PREFIXES:
            path = tuple(part.replace("\\.", ".") for part in _DOT.split(rest)) if rest else ()
            if not path or any(part == "" for part in path):
                raise UsageError(
                    f"Field {name!r} needs a key after {head + '.'!r}, e.g. "
                    f"'{head}.lr' or '{head}.optimizer.lr' (dots separate nested keys)."
                )
            if self.dialect == "sqlite" and any('"' in part for part in path):
                raise UsageError(f"Field {name!r}: keys containing '\"' cannot be filtered on.")
            return RunField(name, "json", _JSON_PREFIXES[head], path=path)
        raise UsageError(f"Unknown run field {name!r}: use one of {', '.join(FIELDS)}.")

    # -- filters ---------------------------------------------------------------------------
    def where(self, filters: Mapping[str, Any] | None) -> sa.ColumnElement[bool]:
        """The ``WHERE`` condition for a MongoDB-style filter document (``None``: all runs)."""
        if filters is None:
            return sa.true()
        return self._document(filters)

    def _document(self, document: Any) -> sa.ColumnElement[bool]:
        if not isinstance(document, Mapping):
            raise UsageError(
                f"A filter must be a dict such as {{'state': 'finished'}}, not {document!r}."
            )
        clauses = []
        for key, value in document.items():
            if key in LOGICAL_OPERATORS:
                if not isinstance(value, (list, tuple)) or not value:
                    raise UsageError(f"{key} takes a non-empty list of filters, not {value!r}.")
                parts = [self._document(item) for item in value]
                clauses.append(sa.and_(*parts) if key == "$and" else sa.or_(*parts))
            elif isinstance(key, str) and key.startswith("$"):
                raise UsageError(
                    f"Unknown operator {key!r} at the top of a filter: use "
                    f"{' or '.join(LOGICAL_OPERATORS)}, or a field name."
                )
            else:
                clauses.append(self._field_condition(self.field(key), value))
        if not clauses:
            return sa.true()
        return clauses[0] if len(clauses) == 1 else sa.and_(*clauses)

    def _field_condition(self, field: RunField, spec: Any) -> sa.ColumnElement[bool]:
        if not isinstance(spec, Mapping):
            return self._operator(field, "$eq", spec, spec)
        if not spec or not all(isinstance(k, str) and k.startswith("$") for k in spec):
            raise UsageError(
                f"The condition on {field.name!r} must be a value or a dict of operators such "
                f"as {{'$gt': 1}}, not {dict(spec)!r}. Operators: {', '.join(FIELD_OPERATORS)}."
            )
        clauses = []
        for op, operand in spec.items():
            if op == "$options":
                if "$regex" not in spec:
                    raise UsageError(f"$options on {field.name!r} needs a $regex beside it.")
                continue
            clauses.append(self._operator(field, op, operand, spec))
        return clauses[0] if len(clauses) == 1 else sa.and_(*clauses)

    def _operator(
        self, field: RunField, op: str, operand: Any, spec: Any
    ) -> sa.ColumnElement[bool]:
        if op not in FIELD_OPERATORS:
            raise UsageError(
                f"Unknown operator {op!r} on {field.name!r}: use one of "
                f"{', '.join(FIELD_OPERATORS)}."
            )
        if field.kind == "tags":
            return self._tags(field, op, operand, spec)
        if op == "$eq":
            return self._definite(field, self._equals(field, operand))
        if op == "$ne":
            return sa.not_(self._definite(field, self._equals(field, operand)))
        if op in ("$in", "$nin"):
            values = _operand_list(field, op, operand)
            matches = sa.or_(*[self._definite(field, self._equals(field, v)) for v in values])
            return matches if op == "$in" else sa.not_(matches)
        if op == "$exists":
            if not isinstance(operand, bool):
                raise UsageError(f"$exists on {field.name!r} takes True or False, not {operand!r}.")
            present = self._present(field)
            return present if operand else sa.not_(present)
        if op == "$regex":
            if field.kind in ("number", "time"):
                raise UsageError(f"$regex works on text fields; {field.name!r} is a number.")
            pattern = _regex_pattern(field, operand, spec)
            target = self._typed(field, "string") if field.kind == "json" else field.expr
            return self._definite(field, target.regexp_match(pattern))
        return self._definite(field, self._compare(field, op, operand))

    def _definite(self, field: RunField, condition: Any) -> sa.ColumnElement[bool]:
        # SQL comparisons with NULL are NULL, and NOT NULL is NULL: coalesce to false so that
        # $ne / $nin / $exists: false match runs where the value is missing, as in MongoDB.
        if not field.nullable:
            return condition  # type: ignore[no-any-return]
        return sa.func.coalesce(condition, sa.false(), type_=sa.Boolean)

    def _equals(self, field: RunField, value: Any) -> Any:
        if value is None:
            if field.kind == "json":
                return sa.not_(self._present(field)) | (self._json_type(field) == "null")
            return field.expr.is_(None) if field.nullable else sa.false()
        if field.kind == "json":
            kind = _json_kind(field, value)
            if kind == "boolean":
                return self._typed(field, kind) == sa.literal(value, sa.Boolean)
            return self._typed(field, kind) == value
        return field.expr == self._column_value(field, value)

    def _compare(self, field: RunField, op: str, value: Any) -> Any:
        if field.kind == "json":
            kind = _json_kind(field, value)
            if kind in ("boolean", "null"):
                raise UsageError(
                    f"{op} on {field.name!r} needs a number or a string, not {value!r}."
                )
            target = self._typed(field, kind)
        else:
            if value is None:
                raise UsageError(f"{op} on {field.name!r} needs a value, not None.")
            target, value = field.expr, self._column_value(field, value)
        return getattr(target, _COMPARISONS[op])(value)

    def _column_value(self, field: RunField, value: Any) -> Any:
        if field.kind == "time":
            return to_epoch(value, field.name)
        if field.kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UsageError(f"{field.name!r} compares to numbers, not {value!r}.")
            return value
        if not isinstance(value, str):
            raise UsageError(f"{field.name!r} compares to strings, not {value!r}.")
        return value

    def _present(self, field: RunField) -> sa.ColumnElement[bool]:
        present: sa.ColumnElement[bool]
        if field.kind != "json":
            present = field.expr.is_not(None) if field.nullable else sa.true()
        elif self.dialect == "postgresql":
            present = field.expr[field.path].is_not(None)
        else:
            present = self._json_type(field).is_not(None)
        return present

    # -- JSON paths ------------------------------------------------------------------------
    def _json_type(self, field: RunField) -> Any:
        """The JSON type name at the field's path (NULL when missing)."""
        if self.dialect == "postgresql":
            return sa.func.jsonb_typeof(field.expr[field.path])
        return sa.func.json_type(field.expr, sqlite_json_path(field.path))

    def _typed(self, field: RunField, kind: str) -> Any:
        """The value at the field's path as SQL ``kind``, or NULL when it holds another type.

        A CASE (not an AND) guards the cast: PostgreSQL may evaluate either side of an AND
        first, and casting a JSON string to a number would fail the whole query.
        """
        json_type = self._json_type(field)
        if self.dialect == "postgresql":
            text = field.expr[field.path].as_string()
            if kind == "number":
                return sa.case((json_type == "number", sa.cast(text, sa.Float)))
            if kind == "boolean":
                return sa.case((json_type == "boolean", sa.cast(text, sa.Boolean)))
            return sa.case((json_type == "string", text))
        value = sa.func.json_extract(field.expr, sqlite_json_path(field.path))
        if kind == "number":
            return sa.case((json_type.in_(("integer", "real")), sa.type_coerce(value, sa.Float)))
        if kind == "boolean":
            return sa.case((json_type.in_(("true", "false")), sa.type_coerce(value, sa.Boolean)))
        return sa.case((json_type == "text", sa.type_coerce(value, sa.String)))

    # -- tags ------------------------------------------------------------------------------
    def _tags(self, field: RunField, op: str, operand: Any, spec: Any) -> sa.ColumnElement[bool]:
        if op not in _TAG_OPERATORS:
            raise UsageError(
                f"tags supports {', '.join(_TAG_OPERATORS)} (a value matches runs having that "
                f"tag), not {op!r}."
            )
        if op == "$regex":
            return self._tag_exists(regex=_regex_pattern(field, operand, spec))
        values = _operand_list(field, op, operand) if op in ("$in", "$nin") else [operand]
        for value in values:
            if not isinstance(value, str):
                raise UsageError(
                    f"tags compares to tag strings, not {value!r}: use {{'tags': 'baseline'}} or "
                    "{'tags': {'$in': ['a', 'b']}}."
                )
        matches = sa.or_(*[self._tag_exists(tag=value) for value in values])
        return sa.not_(matches) if op in ("$ne", "$nin") else matches

    def _tag_exists(
        self, tag: str | None = None, regex: str | None = None
    ) -> sa.ColumnElement[bool]:
        if self.dialect == "postgresql":
            if tag is not None:
                contains: sa.ColumnElement[bool] = sa.type_coerce(
                    runs.c.tags, postgresql.JSONB()
                ).contains([tag])
                return contains
            elements = sa.func.jsonb_array_elements_text(runs.c.tags).table_valued("value")
        else:
            elements = sa.func.json_each(runs.c.tags).table_valued("value")
        value = elements.c.value
        condition = value == tag if tag is not None else value.regexp_match(regex)
        return sa.exists().select_from(elements).where(condition)

    # -- order -----------------------------------------------------------------------------
    def order_by(self, order: str | Sequence[str] | None) -> list[Any]:
        """``ORDER BY`` terms for ``"+field"`` (ascending; no sign too) or ``"-field"``, or a
        list of them. Runs missing the value sort last either way; on JSON paths numbers come
        before strings and strings before booleans; ties go by storage order, in the direction
        of the first order."""
        items = [] if order is None else [order] if isinstance(order, str) else list(order)
        terms: list[Any] = []
        descending_first = False
        for index, item in enumerate(items):
            if not isinstance(item, str) or item.strip(" +-") == "":
                raise UsageError(
                    f"An order is a field name with '+' (ascending) or '-' (descending) in "
                    f"front, such as '-summary_metrics.acc', not {item!r}."
                )
            descending = item.startswith("-")
            name = item[1:] if item[0] in "+-" else item
            field = self.field(name.strip())
            if index == 0:
                descending_first = descending
            terms.extend(self._order_terms(field, descending))
        terms.append(runs.c.pk.desc() if descending_first else runs.c.pk.asc())
        return terms

    def _order_terms(self, field: RunField, descending: bool) -> list[Any]:
        if field.kind == "tags":
            raise UsageError("Runs cannot be ordered by tags: order by another field.")
        if field.kind == "json":
            # Rank by JSON type first (numbers, strings, booleans, then missing or anything
            # else) so that mixed types order the same way on SQLite and PostgreSQL.
            ranks = _PG_TYPE_RANKS if self.dialect == "postgresql" else _SQLITE_TYPE_RANKS
            json_type = self._json_type(field)
            missing: Any = sa.case(ranks, value=json_type, else_=len(set(ranks.values())))
            if self.dialect == "postgresql":
                node: Any = field.expr[field.path]
            else:
                node = sa.func.json_extract(field.expr, sqlite_json_path(field.path))
            value = sa.case((json_type.in_(list(ranks)), node))  # NULL for the rest: ties
        else:
            value = field.expr
            missing = sa.case((value.is_(None), 1), else_=0) if field.nullable else None
        terms = [] if missing is None else [missing.asc()]
        terms.append(value.desc() if descending else value.asc())
        return terms


def sqlite_json_path(path: Sequence[str]) -> str:
    """A SQLite JSON path with every key quoted: ``("a", "b/c")`` -> ``$."a"."b/c"``."""
    return "$" + "".join(f'."{part}"' for part in path)


def _json_kind(field: RunField, value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    raise UsageError(
        f"{field.name!r} compares to a number, a string, a boolean or None, not {value!r}."
    )


def _operand_list(field: RunField, op: str, operand: Any) -> list[Any]:
    if not isinstance(operand, (list, tuple, set, frozenset)):
        raise UsageError(f"{op} on {field.name!r} takes a list of values, not {operand!r}.")
    values = list(operand)
    if not values:
        raise UsageError(f"{op} on {field.name!r} needs at least one value.")
    return values


def _regex_pattern(field: RunField, operand: Any, spec: Any) -> str:
    if not isinstance(operand, str):
        raise UsageError(f"$regex on {field.name!r} takes a pattern string, not {operand!r}.")
    options = spec.get("$options", "") if isinstance(spec, Mapping) else ""
    if not isinstance(options, str) or set(options) - {"i"}:
        raise UsageError(f"$options on {field.name!r} supports only 'i' (ignore case).")
    try:
        re.compile(operand)
    except re.error as exc:
        raise UsageError(
            f"$regex on {field.name!r}: {operand!r} is not a valid pattern ({exc})."
        ) from None
    return "(?i)" + operand if options else operand
