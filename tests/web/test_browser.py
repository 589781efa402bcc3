"""The web app in a real browser (Debian's Chromium under Playwright) against a live server.

The tests share one seeded store and run in file order: later ones rename, delete and stop
runs. Each saves screenshots under tests/artifacts/.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from seed import LONG_SPIKE, LONG_SPIKE_AT, XSS_NAME, LiveRun
from web_kit import LiveServer, shot

pytestmark = pytest.mark.slow
WORKSPACE = "/projects/alice/cifar"
LOSS_PLOT = "document.querySelector('[data-key=\"train/loss\"] .plot')"


def row(page: Any, name: str) -> Any:
    """The sidebar row of the run called ``name``."""
    return page.locator(".run-row").filter(has=page.get_by_role("link", name=name, exact=True))


def wait_rows(page: Any, count: int) -> None:
    """Wait until the sidebar lists ``count`` runs."""
    page.wait_for_function(
        "n => document.querySelectorAll('#run-list .run-row').length === n "
        "&& document.getElementById('run-list').getAttribute('aria-busy') === 'false'",
        arg=count,
    )


def wait_visualized(page: Any, count: int | str) -> None:
    """Wait until the sidebar says ``count`` runs (or e.g. ``"3 groups"``) are drawn."""
    page.wait_for_function(
        "n => document.getElementById('visualized').textContent === `${n} visualized`", arg=count
    )


def wait_traces(page: Any, key: str, count: int) -> None:
    """Wait until the chart of ``key`` draws ``count`` runs."""
    page.wait_for_function(
        '([key, n]) => { const p = document.querySelector(`[data-key="${key}"] .plot`);'
        " return p && p.data && p.data.length === n; }",
        arg=[key, count],
    )


def open_workspace(page: Any, server: LiveServer, query: str = "") -> None:
    """Open the cifar workspace and wait for its runs and first charts."""
    page.goto(f"{server.url}{WORKSPACE}{query}")
    page.wait_for_selector("#run-list[aria-busy='false']")
    page.wait_for_selector("[data-key='train/loss'] .plot .main-svg")


@pytest.fixture(autouse=True)
def fresh_workspaces(server: LiveServer) -> None:
    """Each test starts from the default workspaces: forget what earlier tests saved on the
    server (a fresh browser context already has empty localStorage)."""
    import urllib.request

    for project in ("cifar", "long", "my-first-run"):
        request = urllib.request.Request(
            f"{server.url}/web-api/projects/alice/{project}/state",
            method="DELETE",
            headers={"X-Kiseki-Web": "1"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200


def reset_workspace(page: Any, path: str = WORKSPACE) -> None:
    """Forget the saved workspace (on the server and in the browser) so later tests start
    from the defaults."""
    page.wait_for_function("() => !document.body.dataset.savePending")
    answer = page.evaluate(
        "async (path) => (await fetch(`/web-api${path}/state`, {method: 'DELETE',"
        " headers: {'X-Kiseki-Web': '1'}})).status",
        path,
    )
    assert answer == 200
    page.evaluate("localStorage.clear()")


def test_home_search_finds_a_project_as_you_type(page: Any, server: LiveServer) -> None:
    page.goto(server.url)
    rows = page.locator("#project-list tbody tr")
    assert rows.count() == 3
    page.keyboard.press("/")
    page.keyboard.type("my-first")
    assert page.locator("#project-list tbody tr:visible").count() == 1
    shot(page, "home-search")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/projects/alice/my-first-run$"))
    assert page.locator("#run-count").inner_text() == "(1)"


def test_workspace_lists_every_run_and_charts_them_by_section(
    page: Any, server: LiveServer
) -> None:
    open_workspace(page, server)
    wait_rows(page, 9)
    assert page.locator("#run-count").inner_text() == "(9)"
    assert page.locator("#visualized").inner_text() == "9 visualized"
    sections = page.locator(".chart-section > summary .section-name").all_inner_texts()
    assert sections == ["Charts", "train", "val"]
    wait_traces(page, "train/loss", 9)
    assert page.evaluate("window.__xss") is None
    assert row(page, XSS_NAME).count() == 1  # shown as text, not run
    shot(page, "workspace-light")
    page.emulate_media(color_scheme="dark")
    page.wait_for_timeout(300)
    shot(page, "workspace-dark")


def test_search_runs_with_a_regular_expression(page: Any, server: LiveServer) -> None:
    open_workspace(page, server)
    page.fill("#run-search", "^vit-adamw-[12]$")
    wait_rows(page, 2)
    assert page.locator("#run-list .run-name").all_inner_texts() == ["vit-adamw-2", "vit-adamw-1"]
    wait_traces(page, "train/loss", 2)
    assert "q=%5Evit-adamw-%5B12%5D%24" in page.url
    page.fill("#run-search", "(broken")
    page.wait_for_selector("#runs-error:not([hidden])")
    assert "not a valid pattern" in page.locator("#runs-error").inner_text()
    shot(page, "workspace-search-error")
    page.fill("#run-search", "")
    wait_rows(page, 9)


def test_filter_by_state_and_config_then_sort_by_a_summary_value(
    page: Any, server: LiveServer
) -> None:
    open_workspace(page, server)
    page.click("#filter-toggle")
    page.select_option(".filter-row .f-field", "state")
    page.fill(".filter-row .f-value", "failed")
    wait_rows(page, 1)
    assert page.locator("#run-list .run-name").inner_text() == "vit-adamw-diverged"
    assert page.locator("#filter-count").inner_text() == "1"
    page.select_option(".filter-row .f-field", "config.optimizer.lr")
    page.select_option(".filter-row .f-op", ">=")
    page.fill(".filter-row .f-value", "0.001")
    wait_rows(page, 6)
    page.click("#filter-add")
    page.locator(".filter-row").nth(1).locator(".f-field").select_option("tags")
    page.locator(".filter-row").nth(1).locator(".f-op").select_option("contains")
    page.locator(".filter-row").nth(1).locator(".f-value").fill("unstable")
    wait_rows(page, 1)
    shot(page, "workspace-filters")
    page.click("#filter-clear")
    wait_rows(page, 9)
    page.click("#sort-toggle")
    page.select_option("#sort-field", "summary_metrics.train/loss")
    page.click("#sort-dir")  # ascending: the lowest final loss first
    page.wait_for_function("() => location.search.includes('sort=%2Bsummary_metrics')")
    wait_rows(page, 9)
    losses = [float(v) for v in page.locator("#run-list .run-meta").all_inner_texts() if v]
    assert losses == sorted(losses) and len(losses) == 8  # the live run has no summary yet
    shot(page, "workspace-sorted")


def test_hide_colour_and_how_many_runs_persist_and_travel_in_the_url(
    page: Any, server: LiveServer, browser: Any
) -> None:
    open_workspace(page, server)
    wait_traces(page, "train/loss", 9)
    target = row(page, "resnet-adam-2")
    target.hover()
    target.locator(".eye").click()
    wait_visualized(page, 8)
    wait_traces(page, "train/loss", 8)
    assert target.locator(".eye").get_attribute("aria-pressed") == "false"
    swatch = row(page, "resnet-adam-1").locator(".swatch")
    swatch.click()
    page.locator(".color-picker .preset[title='#be185d']").click()
    assert "#be185d" in (swatch.get_attribute("style") or "")
    page.fill("#run-limit", "2")
    page.press("#run-limit", "Enter")
    wait_visualized(page, 2)
    wait_traces(page, "train/loss", 2)
    shot(page, "workspace-hidden-colour-n2")
    url = page.url
    assert "n=2" in url and "hide=r-adam-2" in url and "color=r-adam-1%3Abe185d" in url
    page.goto(f"{server.url}{WORKSPACE}")  # no query: localStorage brings the state back
    wait_visualized(page, 2)
    assert "n=2" in page.url
    shared = browser.new_context()  # someone else opening the link: same view
    try:
        other = shared.new_page()
        other.goto(url)
        wait_visualized(other, 2)
        assert row(other, "resnet-adam-2").locator(".eye").get_attribute("aria-pressed") == "false"
    finally:
        shared.close()
    reset_workspace(page)


def test_group_by_a_config_column_draws_each_group_as_a_mean_with_a_band(
    page: Any, server: LiveServer
) -> None:
    open_workspace(page, server)
    page.click("#group-toggle")
    page.select_option("#group-field", "config.model")
    page.wait_for_selector(".group-row")
    groups = page.locator(".group-row .group-name").all_inner_texts()
    assert sorted(groups) == ["<i>cfg</i>", "live", "resnet", "vit"]
    wait_visualized(page, "4 groups")
    wait_traces(page, "train/loss", 12)  # per group: lower bound, upper bound (filled), mean
    fills = page.evaluate(f"{LOSS_PLOT}.data.filter(t => t.fill === 'tonexty').length")
    assert fills == 4
    names = page.evaluate(f"{LOSS_PLOT}.data.filter(t => t.name).map(t => t.name)")
    assert "resnet (4)" in names and "vit (3)" in names
    page.select_option("#band", "stderr")
    vit = page.locator(".group-row[data-group='vit']")
    vit.locator(".group-toggle").click()
    page.wait_for_selector(".run-row.member")
    assert page.locator(".run-row.member .run-name").count() == 3
    assert "group=config.model" in page.url and "band=stderr" in page.url
    shot(page, "workspace-grouped")
    vit = page.locator(".group-row[data-group='vit']")
    vit.hover()
    vit.locator(".eye").click()
    wait_visualized(page, "3 groups")
    page.select_option("#group-field", "")
    wait_rows(page, 9)
    reset_workspace(page)


def test_running_runs_update_live_fetching_only_new_points(
    page: Any, server: LiveServer, live_run: LiveRun
) -> None:
    bodies: list[dict] = []
    page.on(
        "request",
        lambda request: (
            bodies.append(json.loads(request.post_data or "{}"))
            if request.url.endswith("/series")
            else None
        ),
    )
    open_workspace(page, server, "?q=live")
    wait_traces(page, "train/loss", 1)
    before = page.evaluate(f"{LOSS_PLOT}.data[0].x.length")
    live_run.log(30, value=7.5)
    page.wait_for_function(
        f"() => {LOSS_PLOT}.data[0].y.includes(7.5)",
        timeout=15_000,
    )
    after = page.evaluate(f"{LOSS_PLOT}.data[0].x.length")
    assert after == before + 30
    live = [b for b in bodies if b.get("after")]
    assert live and all(b["runs"] == ["live-1"] for b in live)
    assert any(b["after"]["live-1"].get("train/loss") == before - 1 for b in live)
    shot(page, "workspace-live")


def test_a_long_run_is_downsampled_keeping_its_spike_and_zooming_fetches_detail(
    page: Any, server: LiveServer
) -> None:
    bodies: list[dict] = []
    page.on(
        "request",
        lambda request: (
            bodies.append(json.loads(request.post_data or "{}"))
            if request.url.endswith("/series")
            else None
        ),
    )
    page.goto(f"{server.url}/projects/alice/long")
    plot = "document.querySelector('[data-key=\"loss\"] .plot')"
    page.wait_for_function(f"() => {plot} && {plot}.data && {plot}.data.length === 1")
    points = page.evaluate(f"{plot}.data[0].x.length")
    assert points <= 2_002 and page.evaluate(f"Math.max(...{plot}.data[0].y)") == LONG_SPIKE
    lo, hi = LONG_SPIKE_AT - 200, LONG_SPIKE_AT + 200
    page.evaluate(f"Plotly.relayout({plot}, {{'xaxis.range[0]': {lo}, 'xaxis.range[1]': {hi}}})")
    page.wait_for_function(f"() => {plot}.data[0].x.length === 401")
    assert any(b.get("min_step") == lo and b.get("max_step") == hi for b in bodies)
    assert page.evaluate(f"{plot}.data[0].x.includes({LONG_SPIKE_AT})")
    shot(page, "workspace-zoomed")
    page.evaluate(f"Plotly.relayout({plot}, {{'xaxis.autorange': true}})")
    page.wait_for_function(f"() => {plot}.data[0].x.length === {points}")


def test_rename_a_run_from_its_menu_with_the_keyboard(page: Any, server: LiveServer) -> None:
    open_workspace(page, server)
    kebab = row(page, "vit-adamw-1").locator(".kebab")
    kebab.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(".menu[role='menu']")
    shot(page, "workspace-menu")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_selector("dialog[open] input")
    page.keyboard.press("Control+a")
    page.keyboard.type("vit-best")
    page.keyboard.press("Enter")
    page.get_by_role("link", name="vit-best", exact=True).wait_for()
    assert row(page, "vit-adamw-1").count() == 0


def test_delete_a_run_only_after_confirming(page: Any, server: LiveServer) -> None:
    open_workspace(page, server)
    wait_rows(page, 9)
    target = row(page, "resnet-sgd-1")
    target.hover()
    target.locator(".kebab").click()
    page.get_by_role("menuitem", name="Delete…").click()
    page.wait_for_selector("dialog[open]")
    shot(page, "workspace-delete-confirm")
    page.get_by_role("button", name="Cancel").click()
    assert row(page, "resnet-sgd-1").count() == 1
    target.hover()
    target.locator(".kebab").click()
    page.get_by_role("menuitem", name="Delete…").click()
    page.get_by_role("button", name="Delete run").click()
    wait_rows(page, 8)
    assert row(page, "resnet-sgd-1").count() == 0
    assert page.locator("#run-count").inner_text() == "(8)"


def test_stop_a_running_run(page: Any, server: LiveServer, live_run: LiveRun) -> None:
    open_workspace(page, server)
    target = row(page, "live-run")
    assert target.get_attribute("data-state") == "running"
    target.hover()
    target.locator(".kebab").click()
    page.get_by_role("menuitem", name="Stop run…").click()
    page.get_by_role("button", name="Stop run").click()
    page.wait_for_selector("#toast.show")
    assert "Asked live-run to stop" in page.locator("#toast").inner_text()
    live_run.finish()  # what the process does when its next heartbeat says "stop"
    page.wait_for_function(
        "() => document.querySelector('.run-row[data-id=\"live-1\"]').dataset.state === 'killed'",
        timeout=15_000,
    )
    shot(page, "workspace-stopped")


def test_open_a_run_and_edit_notes_tags_and_privacy(page: Any, server: LiveServer) -> None:
    open_workspace(page, server)
    page.get_by_role("link", name="resnet-adam-1", exact=True).click()
    page.wait_for_url(re.compile(r"/runs/r-adam-1$"))
    for text in ("gpu-box-01", "python train.py --lr 0.001", "AMD EPYC 7763", "0123456789ab"):
        assert page.get_by_text(text).count() >= 1, text
    page.click("#notes-edit")
    page.fill("#notes-input", "<b>not bold</b> & fine")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#notes-form", state="hidden")
    assert page.locator("#notes-view").inner_text() == "<b>not bold</b> & fine"
    page.fill("#tag-input", "keep")
    page.press("#tag-input", "Enter")
    page.locator(".tag[data-tag='keep']").wait_for()
    page.get_by_role("button", name="Remove tag baseline").click()
    page.wait_for_function("() => !document.querySelector(\".tag[data-tag='baseline']\")")
    page.select_option("#privacy", "public")
    page.wait_for_selector("#toast.show")
    page.fill(".kv-search[data-table='config-table']", "lr")
    assert page.locator("#config-table tr.kv-leaf:visible").count() == 1
    shot(page, "run-overview")
    page.reload()
    assert page.locator("#notes-view").inner_text() == "<b>not bold</b> & fine"
    assert [tag.get_attribute("data-tag") for tag in page.locator(".tag").all()] == ["keep"]
    assert page.locator("#privacy").input_value() == "public"
    page.emulate_media(color_scheme="dark")
    shot(page, "run-overview-dark")


def test_run_charts_tab_with_smoothing_log_scale_and_x_axis(page: Any, server: LiveServer) -> None:
    page.goto(f"{server.url}{WORKSPACE}/runs/r-adam-1/charts")
    wait_traces(page, "train/loss", 1)
    page.fill("#smoothing", "0.8")
    page.dispatch_event("#smoothing", "input")
    wait_traces(page, "train/loss", 2)  # the raw line stays, faded, under the smoothed one
    page.check("#log-scale")
    page.wait_for_function(f"() => {LOSS_PLOT}.layout.yaxis.type === 'log'")
    page.select_option("#x-axis", "_runtime")
    page.wait_for_function(f"() => {LOSS_PLOT}.layout.xaxis.title.text === '_runtime'")
    shot(page, "run-charts")


def test_a_script_in_a_run_name_or_notes_never_runs(page: Any, server: LiveServer) -> None:
    page.goto(f"{server.url}{WORKSPACE}/runs/xss-1")
    assert page.locator("#run-name").inner_text() == XSS_NAME
    assert page.locator("#notes-view").inner_text().startswith("<img src=x")
    assert page.locator(".tag").first.inner_text().startswith("<b>bold</b>")
    page.goto(f"{server.url}{WORKSPACE}/runs/xss-1/charts")
    wait_traces(page, "train/loss", 1)
    page.hover("[data-key='train/loss'] .plot .nsewdrag")
    assert page.evaluate("window.__xss") is None
    shot(page, "run-xss")
