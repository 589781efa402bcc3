"""Helpers of the media tests: a run that logs images, histograms and tables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

import kiseki

STEPS = 4
TABLE_ROWS = 25


def frame(step: int) -> np.ndarray:
    """The image logged at ``step``: a 6x8 RGB picture whose red channel is 40 * step."""
    pixels = np.zeros((6, 8, 3), dtype=np.uint8)
    pixels[:, :, 0] = 40 * step
    pixels[:, :, 2] = np.arange(8, dtype=np.uint8) * 30
    return pixels


@dataclass
class MediaRun:
    """What :func:`log_media_run` logged."""

    run_id: str
    entity: str
    project: str
    digests: list[str]


def log_media_run(kiseki_dir: Path, project: str = "vision") -> MediaRun:
    """Log ``STEPS`` steps of an image, a weights histogram and, at the end, a predictions
    table of ``TABLE_ROWS`` rows (labels ``item-00`` .. , scores falling, an image in row 0)."""
    run = kiseki.init(
        project=project, name="media-run", settings={"kiseki_dir": kiseki_dir, "silent": True}
    )
    digests = []
    rng = np.random.default_rng(1)
    for step in range(STEPS):
        image = kiseki.Image(frame(step), caption=f"frame {step}")
        run.log({"loss": 1.0 / (step + 1), "samples": image, "weights": rng.normal(step, 1, 200)})
        digests.append(str(image.digest))
    table = kiseki.Table(columns=["label", "score", "picture"])
    for i in range(TABLE_ROWS):
        table.add_data(f"item-{i:02d}", round(1.0 - i / TABLE_ROWS, 3), None)
    table.data[0][2] = kiseki.Image(frame(1), caption="first")
    run.log({"predictions": table})
    run.finish()
    return MediaRun(run.id, run.entity, run.project, digests)
