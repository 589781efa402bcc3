"""kiseki.log: steps, commit, flattening, value types, and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import kiseki
from kiseki.errors import UsageError, ValueTypeError


def rows_of(run: kiseki.Run) -> list[dict]:
    """Every stored history row of a finished run."""
    return list(kiseki.Api().run(run.path).scan_history())


def test_each_call_is_one_row_with_step_runtime_and_timestamp() -> None:
    run = kiseki.init(project="p")
    for i in range(5):
        kiseki.log({"loss": 1.0 / (i + 1), "acc": i})
    run.finish()
    rows = rows_of(run)
    assert [r["_step"] for r in rows] == [0, 1, 2, 3, 4]
    assert [r["acc"] for r in rows] == [0, 1, 2, 3, 4]
    assert all(isinstance(r["acc"], int) for r in rows)
    assert all(r["_runtime"] >= 0 for r in rows)
    assert all(abs(r["_timestamp"] - run.start_time) < 60 for r in rows)
    assert rows[-1]["_timestamp"] >= rows[0]["_timestamp"]


def test_commit_false_merges_into_the_pending_row() -> None:
    run = kiseki.init(project="p")
    kiseki.log({"a": 1}, commit=False)
    kiseki.log({"b": 2}, commit=False)
    kiseki.log({"c": 3})
    kiseki.log({"a": 4})
    run.finish()
    rows = rows_of(run)
    assert [(r["_step"], r.get("a"), r.get("b"), r.get("c")) for r in rows] == [
        (0, 1, 2, 3),
        (1, 4, None, None),
    ]


def test_explicit_step_keeps_the_row_open_until_a_larger_step() -> None:
    run = kiseki.init(project="p")
    kiseki.log({"a": 1}, step=5)
    kiseki.log({"b": 2}, step=5)
    kiseki.log({"a": 3}, step=7)
    kiseki.log({"c": 9})  # a step-less call commits step 7 (merging c)
    kiseki.log({"a": 10})
    run.finish()
    rows = rows_of(run)
    assert [(r["_step"], r.get("a"), r.get("b"), r.get("c")) for r in rows] == [
        (5, 1, 2, None),
        (7, 3, None, 9),
        (8, 10, None, None),
    ]


def test_explicit_step_with_commit_true_commits_at_once() -> None:
    run = kiseki.init(project="p")
    kiseki.log({"a": 1}, step=3, commit=True)
    kiseki.log({"a": 2})
    run.finish()
    assert [(r["_step"], r["a"]) for r in rows_of(run)] == [(3, 1), (4, 2)]


def test_smaller_step_is_dropped_with_a_warning_naming_both_steps() -> None:
    run = kiseki.init(project="p")
    kiseki.log({"a": 1}, step=10)
    with pytest.warns(kiseki.KisekiWarning, match=r"step 3 is smaller than the current step 10"):
        kiseki.log({"a": 2}, step=3)
    run.finish()
    assert [(r["_step"], r["a"]) for r in rows_of(run)] == [(10, 1)]


def test_nested_dicts_are_flattened_with_slashes() -> None:
    run = kiseki.init(project="p")
    kiseki.log({"train": {"loss": 1.5, "inner": {"x": 2}}, "lr": 0.1})
    run.finish()
    row = rows_of(run)[0]
    assert row["train/loss"] == 1.5
    assert row["train/inner/x"] == 2
    assert run.summary["train/loss"] == 1.5


def test_all_supported_value_types_round_trip() -> None:
    run = kiseki.init(project="p")
    values = {
        "int": 3,
        "float": 2.5,
        "bool": True,
        "str": "hello ✓",
        "none": None,
        "nan": math.nan,
        "inf": math.inf,
        "ninf": -math.inf,
        "huge": 2**80,
        "np_f32": np.float32(0.5),
        "np_i64": np.int64(7),
        "np_bool": np.bool_(False),
        "np_arr": np.arange(4),
        "list": [1, 2.5, "x"],
    }
    kiseki.log(values)
    run.finish()
    row = rows_of(run)[0]
    assert row["int"] == 3 and type(row["int"]) is int
    assert row["float"] == 2.5
    assert row["bool"] is True
    assert row["str"] == "hello ✓"
    assert row["none"] is None
    assert math.isnan(row["nan"])
    assert row["inf"] == math.inf and row["ninf"] == -math.inf
    assert row["huge"] == 2**80
    assert row["np_f32"] == 0.5 and type(row["np_f32"]) is float
    assert row["np_i64"] == 7 and type(row["np_i64"]) is int
    assert row["np_bool"] is False
    assert row["np_arr"] == [0, 1, 2, 3]
    assert row["list"] == [1, 2.5, "x"]
    summary = kiseki.Api().run(run.path).summary
    assert math.isnan(summary["nan"]) and summary["inf"] == math.inf


def test_torch_like_scalars_are_accepted_without_importing_torch() -> None:
    class Tensor:  # stands in for torch.Tensor: recognised by its module name
        __module__ = "torch"

        def __init__(self, value: float) -> None:
            self.value = value

        def numel(self) -> int:
            return 1

        def item(self) -> float:
            return self.value

    run = kiseki.init(project="p")
    kiseki.log({"loss": Tensor(0.25)})
    run.finish()
    assert rows_of(run)[0]["loss"] == 0.25


def test_unsupported_value_raises_type_error_naming_the_key_and_records_nothing() -> None:
    run = kiseki.init(project="p")
    with pytest.raises(TypeError, match="'bad'") as info:
        kiseki.log({"good": 1, "bad": object()})
    assert isinstance(info.value, ValueTypeError)
    with pytest.raises(TypeError, match="'blob'"):
        kiseki.log({"blob": b"bytes"})
    kiseki.log({"good": 2})
    run.finish()
    rows = rows_of(run)
    assert [(r["_step"], r["good"]) for r in rows] == [(0, 2)]
    assert "bad" not in rows[0]


def test_large_non_numeric_arrays_are_refused_with_advice() -> None:
    kiseki.init(project="p")  # large numeric arrays become histograms (tests/media)
    with pytest.raises(TypeError, match="too large"):
        kiseki.log({"labels": np.array(["cat"] * 1000)})


def test_non_string_keys_and_reserved_keys_are_refused() -> None:
    kiseki.init(project="p")
    with pytest.raises(TypeError, match="keys must be strings"):
        kiseki.log({1: 2})
    with pytest.raises(UsageError, match="reserved"):
        kiseki.log({"_step": 2})
    with pytest.raises(UsageError, match="dict"):
        kiseki.log([1, 2])  # type: ignore[arg-type]


def test_log_before_init_raises_a_clear_error() -> None:
    with pytest.raises(UsageError, match=r"before kiseki.init\(\)"):
        kiseki.log({"a": 1})


def test_log_after_finish_raises() -> None:
    run = kiseki.init(project="p")
    run.finish()
    with pytest.raises(UsageError, match="is finished"):
        run.log({"a": 1})
    with pytest.raises(UsageError, match=r"before kiseki\.init"):
        kiseki.log({"a": 1})


def test_finish_twice_is_harmless() -> None:
    run = kiseki.init(project="p")
    run.finish()
    run.finish()
    kiseki.finish()


def test_step_must_be_an_integer() -> None:
    kiseki.init(project="p")
    with pytest.raises(UsageError, match="integer"):
        kiseki.log({"a": 1}, step=1.5)  # type: ignore[arg-type]


def test_many_rows_across_chunks_read_back_exactly() -> None:
    run = kiseki.init(project="p")
    for i in range(2500):
        kiseki.log({"i": i, "x": i * 0.5, "label": f"s{i}" if i % 100 == 0 else None})
    run.finish()
    rows = rows_of(run)
    assert len(rows) == 2500
    assert [r["i"] for r in rows] == list(range(2500))
    assert [r["x"] for r in rows] == [i * 0.5 for i in range(2500)]
    assert rows[200]["label"] == "s200"
    history = kiseki.Api().run(run.path).history(samples=100, pandas=False)
    assert len(history) == 100
    assert history[0]["_step"] == 0 and history[-1]["_step"] == 2499


def test_threads_logging_at_once_get_consecutive_steps() -> None:
    import threading

    run = kiseki.init(project="p")

    def worker(n: int) -> None:
        for i in range(500):
            run.log({f"w{n}": i})

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.finish()
    rows = rows_of(run)
    assert [r["_step"] for r in rows] == list(range(2000))
    for n in range(4):
        assert [r[f"w{n}"] for r in rows if f"w{n}" in r] == list(range(500))
