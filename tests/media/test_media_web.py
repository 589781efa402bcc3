"""The web app's media JSON and image route, in-process: panels per key, image bytes with
their content type and caching, and refusals for blobs a run does not own."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from media_world import STEPS, TABLE_ROWS, MediaRun, frame, log_media_run
from PIL import Image as PILImage

import kiseki
from kiseki.server.app import create_local_app


@pytest.fixture
def media(kiseki_dir: Path) -> Iterator[tuple[TestClient, MediaRun]]:
    logged = log_media_run(kiseki_dir)
    with TestClient(create_local_app(kiseki_dir, user=logged.entity)) as client:
        yield client, logged


def base(logged: MediaRun) -> str:
    return f"/web-api/runs/{logged.entity}/{logged.project}/{logged.run_id}"


def test_media_json_has_one_panel_per_key(media: tuple[TestClient, MediaRun]) -> None:
    client, logged = media
    response = client.get(base(logged) + "/media")
    assert response.status_code == 200, response.text
    panels = {panel["key"]: panel for panel in response.json()["panels"]}
    assert sorted(panels) == ["predictions", "samples", "weights"]
    samples = panels["samples"]
    assert samples["kind"] == "images" and samples["steps"] == list(range(STEPS))
    assert [f[0]["caption"] for f in samples["frames"]] == [f"frame {s}" for s in range(STEPS)]
    assert [f[0]["digest"] for f in samples["frames"]] == logged.digests
    weights = panels["weights"]
    assert weights["kind"] == "histogram" and len(weights["values"]) == STEPS
    pairs = zip(weights["values"], weights["bins"], strict=True)
    assert all(sum(v) == 200 and len(b) == 65 for v, b in pairs)
    table = panels["predictions"]
    assert table["kind"] == "table" and table["step"] == STEPS
    assert table["columns"] == ["label", "score", "picture"] and len(table["data"]) == TABLE_ROWS
    assert table["data"][0][2]["_type"] == "image-file"


def test_images_are_served_as_png_cached_by_digest(media: tuple[TestClient, MediaRun]) -> None:
    client, logged = media
    digest = logged.digests[2]
    response = client.get(f"{base(logged)}/media/{digest}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["etag"] == f'"{digest}"'
    assert "immutable" in response.headers["cache-control"]
    assert hashlib.sha256(response.content).hexdigest() == digest
    pixels = np.asarray(PILImage.open(io.BytesIO(response.content)))
    assert np.array_equal(pixels, frame(2))
    again = client.get(f"{base(logged)}/media/{digest}", headers={"If-None-Match": f'"{digest}"'})
    assert again.status_code == 304 and again.content == b""


def test_blobs_of_other_runs_and_unknown_runs_are_not_served(
    media: tuple[TestClient, MediaRun], kiseki_dir: Path
) -> None:
    client, logged = media
    other = kiseki.init(project="other", settings={"kiseki_dir": kiseki_dir})
    secret = kiseki.Image(np.full((3, 3), 7, dtype=np.uint8))
    other.log({"secret": secret})
    other.finish()
    own = f"/web-api/runs/{other.entity}/other/{other.id}/media/{secret.digest}"
    assert client.get(own).status_code == 200
    # a digest that is in the blob store but is not one of this run's media
    response = client.get(f"{base(logged)}/media/{secret.digest}")
    assert response.status_code == 404 and "has no media blob" in response.json()["error"]
    gone = f"/web-api/runs/{logged.entity}/{logged.project}/nosuchrun/media/{logged.digests[0]}"
    assert client.get(gone).status_code == 404
    assert client.get(f"{base(logged)}/media/not-a-digest").status_code in (404, 422)


def test_run_page_charts_tab_has_the_media_section(media: tuple[TestClient, MediaRun]) -> None:
    client, logged = media
    page = client.get(f"/projects/{logged.entity}/{logged.project}/runs/{logged.run_id}/charts")
    assert page.status_code == 200
    assert 'id="media-section"' in page.text and "media.js" in page.text
    workspace = client.get(f"/projects/{logged.entity}/{logged.project}")
    assert 'id="media-section"' in workspace.text
    overview = client.get(f"/projects/{logged.entity}/{logged.project}/runs/{logged.run_id}")
    assert f"image 8x6: frame {STEPS - 1}" in overview.text  # the summary names its media
    assert "histogram, 64 bins" in overview.text and "table, 25 rows x 3 columns" in overview.text
    assert "_type" not in overview.text
    script = client.get("/web-static/media.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]


def test_panels_carry_at_most_500_steps_spread_over_the_run(kiseki_dir: Path) -> None:
    run = kiseki.init(project="long", settings={"kiseki_dir": kiseki_dir})
    for step in range(1203):
        run.log({"h": kiseki.Histogram([step, step + 1], num_bins=2)})
    run.finish()
    with TestClient(create_local_app(kiseki_dir, user=run.entity)) as client:
        response = client.get(f"/web-api/runs/{run.entity}/long/{run.id}/media")
    (panel,) = response.json()["panels"]
    assert len(panel["steps"]) == 500 and panel["steps"][0] == 0 and panel["steps"][-1] == 1202
    assert panel["steps"] == sorted(panel["steps"])
    assert [bins[0] for bins in panel["bins"]] == [float(s) for s in panel["steps"]]
