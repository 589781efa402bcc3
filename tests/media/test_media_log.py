"""Media logged with ``kiseki.log`` and read back through ``kiseki.Api`` (embedded store):
images, lists of images, histograms, tables, summaries and the blobs they keep alive."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image as PILImage

import kiseki
from kiseki.blobs import local_blob_store
from kiseki.runlog.reader import read_run_log
from kiseki.runlog.records import HistoryRow, MediaStored
from kiseki.store.database import StoreLocation, create_store_engine


def stored_run(run: kiseki.Run) -> kiseki.Api:
    """The finished run as the read API returns it."""
    return kiseki.Api().run(run.path)


def pixels(seed: int, shape: tuple[int, ...] = (12, 16, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_images_read_back_pixel_for_pixel_at_every_step(kiseki_dir: Path) -> None:
    run = kiseki.init(project="p")
    frames = [pixels(step) for step in range(3)]
    for step, frame in enumerate(frames):
        run.log({"loss": 1.0 / (step + 1), "sample": kiseki.Image(frame, caption=f"step {step}")})
    run.finish()

    rows = list(stored_run(run).scan_history())
    assert [row["_step"] for row in rows] == [0, 1, 2]
    for step, row in enumerate(rows):
        image = row["sample"]
        assert isinstance(image, kiseki.Image)
        assert (image.width, image.height, image.caption) == (16, 12, f"step {step}")
        assert np.array_equal(np.asarray(image.image), frames[step])
    # each PNG is stored once, by its SHA-256 digest, in KISEKI_DIR/blobs
    assert local_blob_store(kiseki_dir).has(rows[1]["sample"].digest)


def test_grey_rgba_channel_first_float_pil_and_path_inputs(tmp_path: Path) -> None:
    grey = pixels(1, (5, 7))
    rgba = pixels(2, (5, 7, 4))
    chw = np.transpose(pixels(3, (5, 7, 3)), (2, 0, 1))
    floats = np.linspace(0.0, 1.0, 35).reshape(5, 7)
    pil = PILImage.fromarray(pixels(4, (5, 7, 3)))
    path = tmp_path / "picture.png"
    pil.save(path)
    tensor = torch.from_numpy(chw.copy())
    run = kiseki.init(project="p")
    run.log(
        {
            "grey": kiseki.Image(grey),
            "rgba": kiseki.Image(rgba),
            "chw": kiseki.Image(chw),
            "floats": kiseki.Image(floats),
            "pil": kiseki.Image(pil),
            "path": kiseki.Image(path),
            "tensor": kiseki.Image(tensor),
            "as_grey": kiseki.Image(pixels(5, (5, 7, 3)), mode="L"),
        }
    )
    run.finish()
    row = next(iter(stored_run(run).scan_history()))
    assert row["grey"].image.mode == "L" and np.array_equal(np.asarray(row["grey"].image), grey)
    assert row["rgba"].image.mode == "RGBA"
    assert np.array_equal(np.asarray(row["rgba"].image), rgba)
    assert np.array_equal(np.asarray(row["chw"].image), np.transpose(chw, (1, 2, 0)))
    assert np.array_equal(np.asarray(row["tensor"].image), np.transpose(chw, (1, 2, 0)))
    assert np.array_equal(np.asarray(row["floats"].image), np.rint(floats * 255).astype(np.uint8))
    assert np.array_equal(np.asarray(row["pil"].image), np.asarray(pil))
    assert np.array_equal(np.asarray(row["path"].image), np.asarray(pil))
    assert row["as_grey"].mode == "L" and row["as_grey"].image.size == (7, 5)


def test_a_list_of_images_under_one_key() -> None:
    frames = [pixels(i, (4, 4, 3)) for i in range(3)]
    run = kiseki.init(project="p")
    run.log({"batch": [kiseki.Image(f, caption=str(i)) for i, f in enumerate(frames)]})
    run.finish()
    batch = next(iter(stored_run(run).scan_history()))["batch"]
    assert [image.caption for image in batch] == ["0", "1", "2"]
    assert all(np.array_equal(np.asarray(i.image), f) for i, f in zip(batch, frames, strict=True))


def test_the_run_log_names_the_media_blobs_before_the_row_that_uses_them(
    kiseki_dir: Path,
) -> None:
    run = kiseki.init(project="p")
    image = kiseki.Image(pixels(7))
    run.log({"a": image, "b": kiseki.Image(pixels(7))})  # same pixels: one blob
    run.finish()
    records = read_run_log(Path(run.dir) / "run.log").records
    media = [i for i, r in enumerate(records) if isinstance(r, MediaStored)]
    rows = [i for i, r in enumerate(records) if isinstance(r, HistoryRow)]
    assert len(media) == 1 and media[0] < rows[0]
    assert records[media[0]].blob_digests() == [image.digest]
    engine = create_store_engine(StoreLocation.in_dir(kiseki_dir))
    with engine.connect() as connection:
        listed = connection.exec_driver_sql(
            "SELECT digest, kind FROM run_blobs WHERE kind = 'media'"
        ).all()
    engine.dispose()
    assert listed == [(image.digest, "media")]


def test_histograms_from_sequences_np_histogram_and_large_arrays() -> None:
    rng = np.random.default_rng(0)
    weights = rng.normal(size=1000)
    counts, edges = np.histogram(weights, bins=10)
    run = kiseki.init(project="p")
    run.log(
        {
            "seq": kiseki.Histogram([1, 2, 2, 3, 3, 3], num_bins=3),
            "np": kiseki.Histogram(np_histogram=(counts, edges)),
            "auto": weights,  # more than 32 elements: a 64-bin histogram, as in wandb
            "auto_tensor": torch.arange(100, dtype=torch.float32),
            "small": np.arange(3),  # up to 32 elements: still a list
        }
    )
    run.finish()
    row = next(iter(stored_run(run).scan_history()))
    assert row["seq"].values == [1, 2, 3] and row["seq"].bins == [1.0, 1 + 2 / 3, 1 + 4 / 3, 3.0]
    assert row["np"].values == counts.tolist() and row["np"].bins == edges.tolist()
    assert isinstance(row["auto"], kiseki.Histogram)
    assert len(row["auto"].values) == 64 and sum(row["auto"].values) == 1000
    assert row["auto"].bins[0] == weights.min() and row["auto"].bins[-1] == weights.max()
    assert sum(row["auto_tensor"].values) == 100 and row["auto_tensor"].bins[-1] == 99.0
    assert row["small"] == [0, 1, 2]


def test_tables_with_images_in_cells_and_from_dataframes() -> None:
    frame = pixels(9, (6, 6, 3))
    df = pd.DataFrame({"name": ["a", "b", "c"], "score": [0.5, 0.25, 1.0]})
    table = kiseki.Table(columns=["id", "prediction", "image"])
    table.add_data(1, "cat", kiseki.Image(frame))
    table.add_data(2, "dog", None)
    run = kiseki.init(project="p")
    run.log({"predictions": table, "scores": kiseki.Table(dataframe=df)})
    run.finish()
    row = next(iter(stored_run(run).scan_history()))
    predictions = row["predictions"]
    assert predictions.columns == ["id", "prediction", "image"]
    assert predictions.data[0][:2] == [1, "cat"] and predictions.data[1] == [2, "dog", None]
    assert np.array_equal(np.asarray(predictions.data[0][2].image), frame)
    pd.testing.assert_frame_equal(row["scores"].get_dataframe(), df)


def test_a_large_table_is_stored_as_a_blob_and_reads_back_whole(kiseki_dir: Path) -> None:
    data = [[i, f"label-{i}" * 5] for i in range(2000)]
    run = kiseki.init(project="p")
    run.log({"big": kiseki.Table(columns=["i", "label"], data=data)})
    run.finish()
    engine = create_store_engine(StoreLocation.in_dir(kiseki_dir))
    with engine.connect() as connection:
        media = connection.exec_driver_sql(
            "SELECT digest FROM run_blobs WHERE kind = 'media'"
        ).all()
    engine.dispose()
    assert len(media) == 1 and local_blob_store(kiseki_dir).has(media[0][0])
    big = next(iter(stored_run(run).scan_history()))["big"]
    assert big.data == data and big.columns == ["i", "label"]


def test_summary_holds_the_last_media_and_survives_api_updates() -> None:
    run = kiseki.init(project="p")
    for step in range(3):
        run.log({"sample": kiseki.Image(pixels(step), caption=str(step)), "w": np.ones(40) * step})
    run.finish()
    stored = stored_run(run)
    assert stored.summary["sample"].caption == "2"
    assert np.array_equal(np.asarray(stored.summary["sample"].image), pixels(2))
    assert stored.summary["w"].bins[0] == 1.5  # np.histogram of a constant 2.0 spans 1.5-2.5
    stored.summary["note"] = "checked"
    stored.update()
    again = kiseki.Api().run(run.path)
    assert again.summary["note"] == "checked" and again.summary["sample"].caption == "2"
    frame = again.history(keys=["sample"])
    assert [image.caption for image in frame["sample"]] == ["0", "1", "2"]


def test_media_in_a_disabled_run_are_checked_but_stored_nowhere(kiseki_dir: Path) -> None:
    run = kiseki.init(project="p", mode="disabled")
    run.log({"sample": kiseki.Image(pixels(1))})
    with pytest.raises(kiseki.UsageError, match="shape"):
        run.log({"sample": kiseki.Image(np.zeros((2, 2, 2, 2)))})
    run.finish()
    assert not (kiseki_dir / "blobs").exists()
