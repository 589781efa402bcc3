"""Bad media input: each error names what was wrong and what to pass instead, and a bad
medium records nothing of its ``log()`` call."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import kiseki
from kiseki.errors import UsageError, ValueTypeError


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.zeros((2, 3, 5), dtype=np.uint8), r"shape \(2, 3, 5\).*C = 1 \(grey\), 3 \(RGB\)"),
        (np.zeros(7, dtype=np.uint8), r"shape \(7,\)"),
        (np.full((2, 2), 1.5), "float pixels from 1.5 to 1.5.*0.0-1.0"),
        (np.full((2, 2), 300), "integer pixels from 300 to 300.*0-255"),
        (np.array([[np.nan, 0.0]]), "NaN"),
        (np.array([["a", "b"]]), "numeric array"),
        (b"not an image", "NumPy array, a PyTorch tensor, a PIL image or a file path, got bytes"),
    ],
)
def test_bad_image_data_is_refused_with_the_reason(data: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        kiseki.Image(data)


def test_bad_image_mode_caption_and_path(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="mode 'XYZ' is not supported: use one of"):
        kiseki.Image(np.zeros((2, 2)), mode="XYZ")
    with pytest.raises(ValueTypeError, match="caption must be a string, got int"):
        kiseki.Image(np.zeros((2, 2)), caption=3)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match=r"no image file at .*missing\.png"):
        kiseki.Image(tmp_path / "missing.png")
    (tmp_path / "notes.png").write_text("hello")
    with pytest.raises(UsageError, match="not an image file Pillow can read"):
        kiseki.Image(tmp_path / "notes.png")


def test_bad_histograms() -> None:
    with pytest.raises(UsageError, match="3 counts and 3 edges: there must be one edge more"):
        kiseki.Histogram(np_histogram=([1, 2, 3], [0.0, 1.0, 2.0]))
    with pytest.raises(UsageError, match="num_bins must be between 1 and 512, got 0"):
        kiseki.Histogram([1, 2], num_bins=0)
    with pytest.raises(UsageError, match="no finite values"):
        kiseki.Histogram([float("nan")])
    with pytest.raises(UsageError, match="sequence or np_histogram=, not both"):
        kiseki.Histogram([1], np_histogram=([1], [0, 1]))
    with pytest.raises(ValueTypeError, match="needs numbers"):
        kiseki.Histogram(["a", "b"])
    with pytest.raises(UsageError, match="increasing order"):
        kiseki.Histogram(np_histogram=([1, 1], [2.0, 1.0, 3.0]))


def test_bad_tables() -> None:
    with pytest.raises(UsageError, match="row 1 has 1 values but the table has 2 columns"):
        kiseki.Table(columns=["a", "b"], data=[[1, 2], [3]])
    with pytest.raises(ValueTypeError, match=r"cell \(row 0, column 'h'\) holds a Histogram"):
        kiseki.Table(columns=["h"], data=[[kiseki.Histogram([1])]])
    with pytest.raises(ValueTypeError, match=r"cell \(row 0, column 'l'\) holds a list"):
        kiseki.Table(columns=["l"], data=[[[1, 2]]])
    with pytest.raises(UsageError, match="columns must be distinct"):
        kiseki.Table(columns=["a", "a"])
    with pytest.raises(ValueTypeError, match="columns must be a list of strings"):
        kiseki.Table(columns=[1, 2])  # type: ignore[list-item]


def test_mixed_or_nested_media_lists_record_nothing_of_the_call() -> None:
    run = kiseki.init(project="p")
    image = kiseki.Image(np.zeros((2, 2), dtype=np.uint8))
    with pytest.raises(ValueTypeError, match="item 1 is a Histogram"):
        run.log({"ok": 1, "mixed": [image, kiseki.Histogram([1, 2])]})
    with pytest.raises(ValueTypeError, match=r"nested\[0\]: media inside nested lists"):
        run.log({"ok": 2, "nested": [[image]]})
    run.log({"ok": 3})
    run.finish()
    rows = list(kiseki.Api().run(run.path).scan_history())
    assert [row["ok"] for row in rows] == [3]


def test_media_and_large_arrays_cannot_go_into_config_or_summary_directly() -> None:
    run = kiseki.init(project="p")
    image = kiseki.Image(np.zeros((2, 2), dtype=np.uint8))
    with pytest.raises(ValueTypeError, match=r"can only be logged with log\(\)"):
        run.summary["best"] = image
    with pytest.raises(ValueTypeError, match=r"can only be logged with log\(\)"):
        run.config.update({"picture": image})
    with pytest.raises(ValueTypeError, match=r"too large.*histograms only in log"):
        run.config.update({"weights": np.zeros(100)})
    run.log({"best": image})  # the way to put media in the summary
    run.finish()
    assert kiseki.Api().run(run.path).summary["best"].digest == image.digest


def test_a_blob_store_that_cannot_be_written_costs_the_media_not_the_run(
    kiseki_dir: Path,
) -> None:
    (kiseki_dir / "blobs").write_text("a file where the blob directory should be")
    run = kiseki.init(project="p")
    with pytest.warns(kiseki.KisekiWarning, match="could not store the media logged under"):
        run.log({"loss": 0.5, "sample": kiseki.Image(np.zeros((2, 2), dtype=np.uint8))})
    run.log({"loss": 0.25, "weights": kiseki.Histogram([1, 2, 3])})  # no blob: still logged
    run.finish()
    rows = list(kiseki.Api().run(run.path).scan_history())
    assert [sorted(row) for row in rows] == [
        ["_runtime", "_step", "_timestamp", "loss"],
        ["_runtime", "_step", "_timestamp", "loss", "weights"],
    ]
