"""The Media section in a real browser (Debian's Chromium under Playwright): the image panel's
step slider, the histogram panel's heatmap and ridgeline, and the table viewer's sorting,
filtering and paging, on the run page and in the workspace."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_kit import LiveServer, build_app, shot

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "media"))

from media_world import STEPS, TABLE_ROWS, MediaRun, log_media_run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def media_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, MediaRun]]:
    """A store holding one run with images, histograms and a table, served on loopback."""
    directory = tmp_path_factory.mktemp("media-web")
    logged = log_media_run(directory)
    live = LiveServer(build_app(directory))
    yield live, logged
    live.stop()


def open_charts(page: Any, site: tuple[LiveServer, MediaRun]) -> MediaRun:
    live, logged = site
    page.goto(f"{live.url}/projects/{logged.entity}/{logged.project}/runs/{logged.run_id}/charts")
    page.wait_for_selector(".media-image-panel img")
    return logged


def shown_image(page: Any) -> dict[str, Any]:
    """The digest, caption and loaded width of the image panel's picture."""
    page.wait_for_function(
        "() => { const i = document.querySelector('.media-image-panel img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    return page.evaluate(
        "() => { const p = document.querySelector('.media-image-panel');"
        " const i = p.querySelector('img'); return {digest: i.dataset.digest,"
        " caption: p.querySelector('figcaption').textContent, width: i.naturalWidth,"
        " step: p.querySelector('.media-step').textContent}; }"
    )


def test_the_image_panel_slider_changes_the_image(
    page: Any, media_site: tuple[LiveServer, MediaRun]
) -> None:
    logged = open_charts(page, media_site)
    last = shown_image(page)
    assert last == {
        "digest": logged.digests[-1],
        "caption": f"frame {STEPS - 1}",
        "width": 8,
        "step": f"step {STEPS - 1}",
    }
    slider = page.locator(".media-image-panel .media-step-slider")
    slider.fill("0")
    first = shown_image(page)
    assert first["digest"] == logged.digests[0] and first["caption"] == "frame 0"
    assert first["step"] == "step 0"
    shot(page, "media-image-panel")


def test_the_histogram_panel_draws_a_heatmap_and_a_ridgeline(
    page: Any, media_site: tuple[LiveServer, MediaRun]
) -> None:
    open_charts(page, media_site)
    plot = "document.querySelector('.media-histogram-panel .media-hist-plot')"
    page.wait_for_function(f"() => {plot}.data && {plot}.data.length === 1")
    heatmap = page.evaluate(
        f"() => ({{type: {plot}.data[0].type, x: {plot}.data[0].x,"
        f" total: {plot}.data[0].z.flat().reduce((a, b) => a + b, 0)}})"
    )
    assert heatmap == {"type": "heatmap", "x": list(range(STEPS)), "total": 200 * STEPS}
    page.locator(".media-histogram-panel .media-hist-mode").select_option("ridgeline")
    page.wait_for_function(f"n => {plot}.data.length === n", arg=STEPS)
    kinds = page.evaluate(f"() => {plot}.data.map((t) => t.type)")
    assert kinds == ["scatter"] * STEPS
    shot(page, "media-histogram-ridgeline")


def table_labels(page: Any) -> list[str]:
    return page.locator(".media-table-panel tbody tr td:first-child").all_text_contents()


def test_the_table_viewer_sorts_filters_and_pages(
    page: Any, media_site: tuple[LiveServer, MediaRun]
) -> None:
    open_charts(page, media_site)
    panel = page.locator(".media-table-panel")
    assert table_labels(page) == [f"item-{i:02d}" for i in range(10)]
    assert panel.locator(".media-page").text_content() == "page 1 of 3"
    assert panel.locator("tbody tr").first.locator("img").count() == 1  # an image in a cell
    panel.locator(".media-next").click()
    assert table_labels(page) == [f"item-{i:02d}" for i in range(10, 20)]
    panel.locator(".media-next").click()
    assert table_labels(page) == [f"item-{i:02d}" for i in range(20, TABLE_ROWS)]
    assert panel.locator(".media-next").is_disabled()

    panel.get_by_role("button", name="score").click()  # ascending: the lowest scores first
    assert table_labels(page)[:2] == ["item-24", "item-23"]
    assert panel.locator("th").nth(1).get_attribute("aria-sort") == "ascending"
    panel.get_by_role("button", name="score").click()
    assert table_labels(page)[:2] == ["item-00", "item-01"]

    panel.locator(".media-table-filter").fill("item-2")  # still sorted by score, descending
    assert table_labels(page) == [f"item-{i}" for i in range(20, TABLE_ROWS)]
    assert panel.locator(".media-table-count").text_content() == f"5 of {TABLE_ROWS} rows"
    assert panel.locator(".media-page").text_content() == "page 1 of 1"
    shot(page, "media-table-viewer")


def test_the_workspace_media_section_shows_the_drawn_runs_media(
    page: Any, media_site: tuple[LiveServer, MediaRun]
) -> None:
    live, logged = media_site
    page.goto(f"{live.url}/projects/{logged.entity}/{logged.project}")
    page.wait_for_selector(".media-image-panel img")
    keys = page.evaluate(
        "() => [...document.querySelectorAll('#media-panels .media-panel')]"
        ".map((p) => p.dataset.key).sort()"
    )
    assert keys == ["predictions", "samples", "weights"]
    assert page.locator(".media-image-panel .run-label").text_content() == "media-run"
