"""The runs table, the compare view and saved workspaces in a real browser (Debian's Chromium).

Runs against the shared seeded store of ``conftest.py`` (``kiseki ui``'s app, the local user
signed in) and, for saved state, against ``kiseki server``'s app with sign-in on. Screenshots
go to tests/artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from seed import Seeder, training_rows
from web_kit import LiveServer, shot

pytestmark = pytest.mark.slow
WORKSPACE = "/projects/alice/cifar"
STATE_URL = "/web-api/projects/alice/cifar/state"


def open_table(page: Any, server: LiveServer, query: str = "") -> None:
    """Open the cifar workspace expanded into the runs table."""
    page.goto(f"{server.url}{WORKSPACE}{query}")
    page.wait_for_selector("#run-list[aria-busy='false']", state="attached")
    if page.get_attribute("#table-toggle", "aria-pressed") != "true":
        page.keyboard.press("t")
    page.wait_for_selector("#runs-table tbody tr.rt-row")


def table_names(page: Any) -> list[str]:
    """The run names down the table, in order."""
    return page.locator("#runs-table tbody .rt-row .run-name").all_inner_texts()


@pytest.fixture(autouse=True)
def fresh_workspace(server: LiveServer) -> None:
    """Each test starts from the default workspace (a failed test may have left one saved)."""
    import urllib.request

    request = urllib.request.Request(
        f"{server.url}{STATE_URL}", method="DELETE", headers={"X-Kiseki-Web": "1"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def forget_state(page: Any) -> None:
    """Forget the saved workspace so other tests start from the defaults."""
    page.wait_for_function("() => !document.body.dataset.savePending")
    status = page.evaluate(
        "async (url) => (await fetch(url, {method: 'DELETE', headers: {'X-Kiseki-Web': '1'}}))"
        ".status",
        STATE_URL,
    )
    assert status == 200


def test_runs_table_columns_resize_pinned_name_and_header_sort(
    page: Any, server: LiveServer
) -> None:
    open_table(page, server)
    assert "table=1" in page.url
    assert page.locator(".charts-pane").is_hidden()
    headers = page.locator("#runs-table thead th").all_inner_texts()
    assert headers[0].startswith("Name") and "State" in headers[1]
    assert any("lr" in h for h in headers) and any("train/loss" in h for h in headers)
    # choose columns: add the host metadata and the group, drop the state
    page.click("#columns-toggle")
    page.fill(".rt-picker-search", "host")
    assert page.locator(".rt-picker-item:visible").count() == 1
    page.check(".rt-picker-item input[data-col='meta.host']")
    page.fill(".rt-picker-search", "")
    page.check(".rt-picker-item input[data-col='group']")
    page.uncheck(".rt-picker-item input[data-col='state']")
    page.keyboard.press("Escape")
    columns = page.eval_on_selector_all(
        "#runs-table thead th", "ths => ths.map(t => t.dataset.col)"
    )
    assert "meta.host" in columns and "group" in columns and "state" not in columns
    assert page.locator("#runs-table tbody td", has_text="gpu-box-01").count() >= 6
    assert "cols=" in page.url and "meta.host" in page.url
    # header click sorts on the server: lowest learning rate first, then highest
    lr = page.locator("#runs-table thead th[data-col='config.optimizer.lr'] .rt-sort")
    lr.click()
    page.wait_for_function(
        "() => document.querySelector(\"th[data-col='config.optimizer.lr']\")"
        ".getAttribute('aria-sort') === 'ascending'"
    )
    page.wait_for_function("() => document.querySelector('.rt-row .run-name')")
    page.wait_for_function(
        "() => document.querySelector('.rt-row .run-name').textContent === 'vit-adamw-2'"
    )
    assert "sort=%2Bconfig.optimizer.lr" in page.url
    lr.press("Enter")  # keyboard: the header is a button
    page.wait_for_function(
        "() => document.querySelector('.rt-row .run-name').textContent === 'resnet-sgd-1'"
    )
    # resize with the keyboard and by dragging
    name_header = page.locator("#runs-table thead th[data-col='name']")
    before = name_header.bounding_box()["width"]
    name_header.locator(".rt-resize").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert name_header.bounding_box()["width"] == pytest.approx(before + 40, abs=2)
    host = page.locator("#runs-table thead th[data-col='created_at']")
    box = host.bounding_box()
    handle = host.locator(".rt-resize").bounding_box()
    page.mouse.move(handle["x"] + 3, handle["y"] + 10)
    page.mouse.down()
    page.mouse.move(handle["x"] + 123, handle["y"] + 10, steps=4)
    page.mouse.up()
    assert host.bounding_box()["width"] == pytest.approx(box["width"] + 120, abs=4)
    # the name column stays put when the table scrolls sideways
    scrolled, offset = page.evaluate(
        "async () => { const s = document.querySelector('.rt-scroll'); s.scrollLeft = 400;"
        " await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));"
        " const cell = document.querySelector('#runs-table tbody .rt-row th.rt-name');"
        " return [s.scrollLeft, cell.getBoundingClientRect().left"
        " - s.getBoundingClientRect().left]; }"
    )
    assert scrolled > 0 and abs(offset) <= 1  # scrolled sideways, the name column stayed put
    page.evaluate("document.querySelector('.rt-scroll').scrollLeft = 0")
    shot(page, "runs-table")
    # search and filters apply to the table too
    page.fill("#run-search", "^vit")
    page.wait_for_function("() => document.querySelectorAll('.rt-row').length === 3")
    assert all(name.startswith("vit") for name in table_names(page))
    page.fill("#run-search", "")
    page.wait_for_function("() => document.querySelectorAll('.rt-row').length === 9")
    # grouping shows each group's runs under a header row
    page.click("#group-toggle")
    page.select_option("#group-field", "config.model")
    page.wait_for_selector("#runs-table .rt-group")
    groups = page.locator("#runs-table .rt-group").all_inner_texts()
    assert sorted(g.split(" (")[0].strip() for g in groups) == [
        "<i>cfg</i>",
        "live",
        "resnet",
        "vit",
    ]
    page.select_option("#group-field", "")
    page.wait_for_selector("#runs-table .rt-group", state="detached")
    # back to the charts with the keyboard: they are drawn again
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("t")
    page.wait_for_selector(".charts-pane", state="visible")
    page.wait_for_selector("[data-key='train/loss'] .plot .main-svg")
    assert "table=1" not in page.url
    forget_state(page)


MANY = 400


@pytest.fixture(scope="module")
def many_runs(seeded: tuple[Path, Seeder]) -> str:
    """A project of 400 runs (no history) in the module's store; its workspace path."""
    seeder = seeded[1]
    for index in range(MANY):
        seeder.log_run(
            f"m-{index:03d}",
            project="many",
            name=f"many-{index:03d}",
            config={"lr": 1e-4 * (index + 1), "layers": index % 7},
            created_at=1_700_000_000.0 + index,
            summary={"loss": 1.0 / (index + 1)},
        )
    return "/projects/alice/many"


def test_the_table_builds_only_the_rows_in_view(
    page: Any, server: LiveServer, many_runs: str
) -> None:
    page.goto(f"{server.url}{many_runs}?table=1")
    page.wait_for_selector("#runs-table tbody tr.rt-row")
    assert page.inner_text("#run-count") == f"({MANY})"
    built = page.locator("#runs-table tbody tr.rt-row").count()
    assert 20 <= built <= 80  # a screenful and a margin, not 400
    height = page.evaluate("document.querySelector('.rt-scroll').scrollHeight")
    assert height >= MANY * 30  # the spacers keep the full height: the scrollbar is honest
    page.evaluate("document.querySelector('.rt-scroll').scrollTop = 1e9")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.rt-row .run-name')]"
        ".some(a => a.textContent === 'many-000')"
    )
    assert page.locator("#runs-table tbody tr.rt-row").count() <= 80
    shot(page, "runs-table-400-scrolled")
    status = page.evaluate(
        "async () => (await fetch('/web-api/projects/alice/many/state', {method: 'DELETE',"
        " headers: {'X-Kiseki-Web': '1'}})).status"
    )
    assert status == 200


def test_compare_highlights_differences_and_draws_parallel_coordinates(
    page: Any, server: LiveServer
) -> None:
    open_table(page, server)
    for name in ("resnet-adam-1", "resnet-adam-2", "vit-adamw-1"):
        page.locator(".rt-row", has=page.get_by_role("link", name=name, exact=True)).locator(
            ".rt-check"
        ).check()
    assert page.inner_text("#compare-btn") == "Compare (3)"
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("c")
    page.wait_for_url(re.compile(r"/projects/alice/cifar/compare\?.*runs=r-adam-1"))
    heads = page.locator("#compare-config thead th").all_inner_texts()
    assert [h.strip() for h in heads[1:]] == ["resnet-adam-1", "resnet-adam-2", "vit-adamw-1"]
    differs = page.eval_on_selector_all(
        "#compare-config tbody tr.differs", "rows => rows.map(r => r.dataset.field)"
    )
    assert "optimizer.lr" in differs and "model" in differs
    same = page.eval_on_selector_all(
        "#compare-config tbody tr.same", "rows => rows.map(r => r.dataset.field)"
    )
    assert "epochs" in same
    lr_row = page.locator("#compare-config tr[data-field='optimizer.lr'] td").first
    assert lr_row.evaluate("td => getComputedStyle(td).backgroundColor") != "rgba(0, 0, 0, 0)"
    page.wait_for_function("() => document.getElementById('parcoords').dataset.lines")
    assert page.get_attribute("#parcoords", "data-lines") == "9"
    drawn = page.evaluate(
        "() => { const t = document.getElementById('parcoords').data[0];"
        " return [t.type, t.dimensions.map(d => d.label), t.dimensions[0].values.length]; }"
    )
    assert drawn[0] == "parcoords"
    assert drawn[1][-1] == "train/loss"  # the chosen metric is the last axis
    assert {"model", "optimizer.lr (log)", "batch_size"} <= set(drawn[1])
    assert "epochs" not in drawn[1]  # the same in every run: no axis
    assert drawn[2] == 9
    assert page.locator("#parcoords .main-svg").count() >= 1
    assert page.locator("#parcoords .no-webgl, #parcoords .chart-empty").count() == 0
    assert page.evaluate("window.__xss") is None  # the run named <script>... is a line too
    shot(page, "compare")
    page.keyboard.press("d")
    assert "diff=1" in page.url
    assert page.locator("#compare-config tr[data-field='epochs']").is_hidden()
    page.select_option("#pc-metric", "train/acc")
    assert "metric=train%2Facc" in page.url
    shot(page, "compare-only-differences")
    page.goto(f"{server.url}{WORKSPACE}/compare?runs=r-adam-1")
    assert "Pick 2 to 5 runs" in page.inner_text(".empty-state")
    page.goto(f"{server.url}{WORKSPACE}/compare?runs=r-adam-1,nope")
    assert "No run alice/cifar/nope" in page.inner_text("main")
    page.goto(f"{server.url}{WORKSPACE}")
    forget_state(page)


# -- saved state on kiseki server (sign-in on) ---------------------------------------------------
@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``kiseki server``'s app with sign-in, alice (password) and bob, and three runs."""
    from kiseki.server.app import create_app
    from kiseki.server.config import ServerConfig

    directory: Path = tmp_path_factory.mktemp("auth-web")
    seeder = Seeder(directory)
    for index, lr in enumerate((1e-3, 3e-4, 1e-1)):
        seeder.log_run(
            f"run-{index}",
            name=f"run-{index}",
            config={"optimizer": {"lr": lr}},
            rows=training_rows(30, index, lr),
        )
    seeder.close()
    app = create_app(
        ServerConfig(store=str(seeder.location.sqlite_path), watchdog_interval=0, auth=True)
    )
    for name in ("alice", "bob"):
        app.state.accounts.create_user(name)
        app.state.accounts.set_password(name, f"{name}-pass-123")
    live = LiveServer(app)
    yield live
    live.stop()


def sign_in(page: Any, server: LiveServer, user: str) -> None:
    """Sign in through the login form and land on the cifar workspace."""
    page.goto(f"{server.url}/login?next={WORKSPACE}")
    page.fill("input[name='username']", user)
    page.fill("input[name='password']", f"{user}-pass-123")
    page.press("input[name='password']", "Enter")
    page.wait_for_url(re.compile(rf"{WORKSPACE}(\?.*)?$"))


def test_a_signed_in_users_workspace_is_saved_on_the_server_and_survives_a_reload(
    page: Any, auth_server: LiveServer, browser: Any
) -> None:
    sign_in(page, auth_server, "alice")
    page.wait_for_selector("#run-list[aria-busy='false']")
    assert page.get_attribute("#workspace", "data-save") == "server"
    row = page.locator(".run-row", has=page.get_by_role("link", name="run-1", exact=True))
    row.hover()
    row.locator(".eye").click()
    page.keyboard.press("t")
    page.wait_for_selector("#runs-table")
    page.wait_for_function("() => !document.body.dataset.savePending")
    page.goto(f"{auth_server.url}{WORKSPACE}")  # no query: the server brings it back
    page.wait_for_selector("#runs-table tbody tr.rt-row")
    assert page.get_attribute("#workspace", "data-state-source") == "server"
    assert "hide=run-1" in page.url and "table=1" in page.url
    shot(page, "saved-workspace-after-reload")
    # another browser (no localStorage) signed in as alice gets the same workspace
    other_context = browser.new_context()
    try:
        other = other_context.new_page()
        sign_in(other, auth_server, "alice")
        other.wait_for_selector("#runs-table")
        assert "hide=run-1" in other.url
    finally:
        other_context.close()
    # anonymous visitors are asked to sign in; bob cannot see alice's private project at all
    bob_context = browser.new_context()
    try:
        bob = bob_context.new_page()
        bob.goto(f"{auth_server.url}{WORKSPACE}")
        assert "Sign in" in bob.inner_text("header")
        bob.goto(f"{auth_server.url}/login")
        bob.fill("input[name='username']", "bob")
        bob.fill("input[name='password']", "bob-pass-123")
        bob.press("input[name='password']", "Enter")
        bob.wait_for_load_state()
        answer = bob.goto(f"{auth_server.url}{STATE_URL}")
        assert answer.status == 404
    finally:
        bob_context.close()
