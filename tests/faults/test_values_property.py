"""Scenario 8: ``log``/``config``/``summary`` with arbitrary keys and values (hypothesis).

Keys and values are drawn from unicode text (lone surrogates included), very long strings,
deep nesting, NaN and infinities, huge integers, bytes, NumPy scalars and arrays, sets, and
objects whose ``__repr__`` raises. Each call must either be recorded faithfully -- read back
equal through ``kiseki.Api`` -- or refused with a :class:`kiseki.KisekiError` that says what
was wrong; never another exception, never a hang, and the run stays usable either way.

Each example logs under its own top-level key (``ex<N>``), so that every series holds one
value (a series mixing integers and floats is stored as float64: see
``test_a_series_mixing_ints_and_floats_is_stored_as_float64``).
"""

from __future__ import annotations

import datetime
import itertools
import math
import os
import time
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pytest
from faultkit import same_value
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kiseki
from kiseki.errors import KisekiError
from kiseki.sdk.run import KisekiWarning

EXAMPLES = int(os.environ.get("FAULTS_EXAMPLES", "120"))  # more: a deeper search
PROPERTY_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class ExplodingRepr:
    """An object whose ``repr`` and ``str`` raise."""

    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")

    __str__ = __repr__


def nested_dict(depth: int) -> dict[str, Any]:
    """``{"d": {"d": ... 1}}``, ``depth`` levels deep."""
    value: Any = 1
    for _ in range(depth):
        value = {"d": value}
    return value


def nested_list(depth: int) -> list[Any]:
    """``[[...[1]...]]``, ``depth`` levels deep."""
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


any_text = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(exclude_categories=()), max_size=12),  # surrogates, controls, NUL
    st.text(min_size=1000, max_size=5000),
    st.just("x" * 1_000_000),
)
huge_ints = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.sampled_from([2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1]),
)
numbers = st.one_of(huge_ints, st.floats(allow_nan=True, allow_infinity=True), st.booleans())
numpy_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(np.float64),
    st.floats(width=32).map(np.float32),
    st.integers(-(2**31), 2**31 - 1).map(np.int32),
    st.integers(0, 40).map(np.arange),  # more than 32: a histogram in log(), else refused
)
unsupported = st.one_of(
    st.binary(max_size=8),
    st.builds(ExplodingRepr),
    st.builds(object),
    st.sets(st.integers(), max_size=2),
    st.complex_numbers(max_magnitude=10),
)
leaves = st.one_of(
    st.none(),
    numbers,
    any_text,
    numpy_values,
    unsupported,
    st.datetimes(timezones=st.just(datetime.timezone.utc)),
    st.integers(0, 80).map(nested_dict),
    st.integers(0, 300).map(nested_list),
)
keys = st.one_of(
    any_text,
    st.sampled_from(["", "_step", "_runtime", "a/b", "a.b", "$kiseki", "loss"]),
    st.integers(),
    st.builds(ExplodingRepr),
)
values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.tuples(children, children),
        st.dictionaries(keys, children, max_size=3),
    ),
    max_leaves=8,
)
payloads = st.dictionaries(keys, values, max_size=4)


# -- the reference model: what an accepted value reads back as --------------------------------
def expected_value(value: Any, logged: bool = False) -> Any:
    """What the store returns for a value ``log``/``config``/``summary`` accepted.

    In ``log`` (``logged=True``) a numeric array of more than 32 elements becomes a
    histogram, as in wandb."""
    if isinstance(value, np.ndarray):
        if logged and value.size > 32 and value.dtype.kind in "biuf":
            return kiseki.Histogram(value)
        return [expected_value(v, logged) for v in value.tolist()]
    if isinstance(value, np.generic):
        return expected_value(value.item())
    if isinstance(value, list | tuple):
        return [expected_value(v, logged) for v in value]
    if isinstance(value, Mapping):
        return {k: expected_value(v, logged) for k, v in value.items()}
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


def expected_row(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``data`` flattened with ``/`` as ``log`` does, values as the store returns them."""
    row: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            row.update(expected_row(value, f"{prefix}{key}/"))
        else:
            row[prefix + key] = expected_value(value, logged=True)
    return row


def check_refusal(exc: BaseException) -> None:
    """A refusal is a KisekiError (TypeError/ValueError flavours included) that explains."""
    assert isinstance(exc, KisekiError), f"not a kiseki error: {exc!r}"
    assert len(str(exc)) > 20


def wait_for(read: Any, timeout: float = 10.0) -> Any:
    """Poll ``read()`` until it returns something other than ``None`` (never hang)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = read()
        except kiseki.NotFoundError:  # the run's first records are not stored yet
            value = None
        if value is not None:
            return value
        assert time.monotonic() < deadline, "the value never reached the store"
        time.sleep(0.01)


@pytest.fixture
def run() -> Iterator[Any]:
    """A run that flushes every 10 ms, finished (cleanly) at the end of the test."""
    active = kiseki.init(project="props", settings={"flush_interval": 0.01})
    yield active
    active.finish()
    assert kiseki.Api().run(active.path).state == "finished"


counter = itertools.count()


@PROPERTY_SETTINGS
@given(data=payloads)
def test_log_records_faithfully_or_refuses_clearly(run: Any, data: dict[Any, Any]) -> None:
    key = f"ex{next(counter)}"
    step = run.step
    try:
        run.log({key: data})
    except Exception as exc:
        check_refusal(exc)
        assert run.step == step, "a refused call must not consume a step"
        return
    expected = expected_row({key: data})
    api = kiseki.Api()

    def read() -> dict[str, Any] | None:
        rows = list(api.run(run.path).scan_history(min_step=step, max_step=step + 1))
        return rows[0] if rows else None

    stored = wait_for(read)
    got = {k: v for k, v in stored.items() if not k.startswith("_")}
    assert same_value(got, expected)


@PROPERTY_SETTINGS
@given(data=payloads)
def test_config_records_faithfully_or_refuses_clearly(run: Any, data: dict[Any, Any]) -> None:
    key = f"ex{next(counter)}"
    try:
        run.config.update({key: data}, allow_val_change=True)
    except Exception as exc:
        check_refusal(exc)
        assert key not in run.config.as_dict()
        return
    expected = expected_value(data)
    api = kiseki.Api()
    stored = wait_for(lambda: api.run(run.path).config.get(key))
    assert same_value(stored, expected)


@PROPERTY_SETTINGS
@given(data=payloads)
def test_summary_records_faithfully_or_refuses_clearly(run: Any, data: dict[Any, Any]) -> None:
    key = f"ex{next(counter)}"
    try:
        run.summary.update({key: data})
    except Exception as exc:
        check_refusal(exc)
        assert key not in run.summary
        return
    expected = expected_value(data)
    api = kiseki.Api()
    stored = wait_for(lambda: api.run(run.path).summary.get(key))
    assert same_value(stored, expected)


@PROPERTY_SETTINGS
@given(step=st.one_of(st.integers(), st.integers(min_value=2**62, max_value=2**70)))
def test_any_step_is_recorded_or_refused(run: Any, step: int) -> None:
    before = run.step
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", KisekiWarning)  # a step going backwards: dropped
            run.log({"s": 1}, step=step, commit=True)
    except Exception as exc:
        check_refusal(exc)
        assert step < 0 or step > 2**63 - 1 or before > 2**63 - 1
        return
    if step < before:  # dropped with a KisekiWarning by design
        return
    api = kiseki.Api()
    stored = wait_for(
        lambda: next(iter(api.run(run.path).scan_history(min_step=step, max_step=step + 1)), None)
    )
    assert stored["s"] == 1


def test_values_that_need_tags_round_trip_in_every_place(run: Any) -> None:
    """The awkward values the issue names, through log, config and summary."""
    awkward = {
        "nan": math.nan,
        "inf": math.inf,
        "-inf": -math.inf,
        "huge": 2**100,
        "neg_huge": -(2**70),
        "u64": 2**64 - 1,
        "long": "é" * 200_000,
        "nul": "a\x00b",
        "nested": nested_dict(30),
        "lists": [[math.nan, 2**80], ["x", None, True]],
        "tag_lookalike": {"$kiseki": "nan"},
    }
    run.log(awkward)
    run.config.update(awkward)
    run.summary.update({"awk": awkward})
    step = run.step - 1
    api = kiseki.Api()
    row = wait_for(
        lambda: next(iter(api.run(run.path).scan_history(min_step=step, max_step=step + 1)), None)
    )
    assert same_value(
        {k: v for k, v in row.items() if not k.startswith("_")}, expected_row(awkward)
    )
    stored = wait_for(lambda: api.run(run.path).summary.get("awk"))
    assert same_value(stored, expected_value(awkward))
    assert same_value(api.run(run.path).config, expected_value(awkward))


def test_a_series_mixing_ints_and_floats_is_stored_as_float64(run: Any) -> None:
    """Documented store rule: a chunk holding any float stores its numbers as float64."""
    for value in (1, 0.5, 2**60 + 1):
        run.log({"mixed": value})
    run.log({"ints": 2**60 + 1})
    run.finish()
    rows = list(kiseki.Api().run(run.path).scan_history())
    assert [r.get("mixed") for r in rows[:3]] == [1.0, 0.5, float(2**60 + 1)]
    assert rows[3]["ints"] == 2**60 + 1 and type(rows[3]["ints"]) is int
    assert kiseki.Api().run(run.path).summary["mixed"] == 2**60 + 1  # the summary is exact


def test_text_that_is_not_valid_unicode_is_refused_everywhere(run: Any) -> None:
    """A lone surrogate cannot be stored as UTF-8: every entry point refuses it up front."""
    bad = "caf\udce9"
    attempts = [
        lambda: run.log({bad: 1}),
        lambda: run.log({"k": bad}),
        lambda: run.log({"k": [1, [bad]]}),
        lambda: run.config.update({"k": {bad: 1}}),
        lambda: run.summary.update({"k": bad}),
        lambda: setattr(run, "notes", bad),
        lambda: setattr(run, "tags", ["ok", bad]),
        lambda: run.define_metric(bad),
        lambda: kiseki.init(project=bad, reinit="create_new"),
        lambda: kiseki.init(project="props", tags=[bad], reinit="create_new"),
    ]
    for attempt in attempts:
        with pytest.raises(kiseki.ValueTypeError, match="lone surrogate"):
            attempt()
    run.log({"after": 1})  # the run is unharmed
    run.finish()
    assert kiseki.Api().run(run.path).summary["after"] == 1
