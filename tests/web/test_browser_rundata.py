"""Browser tests of a run's Logs and Files tabs and of the System section of the charts (run
page and workspace), on Debian's Chromium against the app on a live loopback server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from seed import Seeder

from kiseki.blobs import local_blob_store
from kiseki.runlog.records import ConsoleLines, FileSaved, RunStarted, SystemSampled
from kiseki.store.applier import RunKey

pytestmark = pytest.mark.slow
PROJECT = "rundata"
RUN_URL = f"/projects/alice/{PROJECT}/runs"
REPORT = b"accuracy: 0.93\n" * 100
XSS_LINE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


class RunDataRuns:
    """Two runs with console lines, files and system samples; ``tail`` adds console lines to
    the running one."""

    def __init__(self, directory: Path, seeder: Seeder) -> None:
        self.seeder = seeder
        self.running = RunKey("alice", PROJECT, "rd-live")
        now = time.time()
        blobs = local_blob_store(directory)
        report = blobs.put_bytes(REPORT)
        config = blobs.put_bytes(b"lr: 0.1\n")
        lines = [[now - 50 + i, "stdout", f"epoch {i}: loss={1 / (i + 1):.4f}"] for i in range(40)]
        lines.insert(10, [now - 40, "stderr", "UserWarning: the learning rate is very high"])
        lines.append([now - 9, "stdout", XSS_LINE])
        samples = [
            SystemSampled(
                0,
                now - 60 + 15 * i,
                15.0 * i,
                {
                    "system/cpu.percent": 20.0 + i,
                    "system/memory.percent": 40.0,
                    "system/gpu.0.gpu": 90.0 - i,
                },
            )
            for i in range(4)
        ]
        for key, finished in ((RunKey("alice", PROJECT, "rd-done"), True), (self.running, False)):
            records: list[Any] = [
                RunStarted(0, key.run_id, PROJECT, "alice", key.run_id, now - 70),
                ConsoleLines(0, lines),
                FileSaved(0, "results/report.txt", report, len(REPORT), now - 10),
                FileSaved(0, "config.yaml", config, 8, now - 20),
                *samples,
            ]
            if finished:
                from kiseki.runlog.records import RunFinished

                records.append(RunFinished(0, 0, now - 5, 65.0))
            self._apply(key, records)

    def _apply(self, key: RunKey, records: list[Any]) -> None:
        start = self.seeder.sink.applied_seq(key) + 1
        for offset, record in enumerate(records):
            record.seq = start + offset
        self.seeder.sink.apply(key, records)

    def tail(self, texts: list[str]) -> None:
        """Print more lines in the running run."""
        now = time.time()
        self._apply(self.running, [ConsoleLines(0, [[now, "stdout", t] for t in texts])])
        self.seeder.sink.heartbeat(self.running)


@pytest.fixture(scope="module")
def rundata(seeded: tuple[Path, Seeder]) -> Iterator[RunDataRuns]:
    yield RunDataRuns(*seeded)


def test_logs_tab_shows_lines_highlights_stderr_and_searches(
    page: Any, server: Any, rundata: RunDataRuns
) -> None:
    page.goto(f"{server.url}{RUN_URL}/rd-done/logs")
    page.wait_for_function("() => document.querySelectorAll('#log-view .log-line').length === 42")
    assert page.locator("nav.tabs a[aria-current='page']").inner_text() == "Logs"
    stderr = page.locator("#log-view .log-line.stream-stderr")
    assert stderr.count() == 1
    assert "learning rate is very high" in stderr.inner_text()
    colors = page.evaluate(
        "() => [...document.querySelectorAll('#log-view .log-line')].slice(9, 12)"
        ".map((n) => getComputedStyle(n).color)"
    )
    assert colors[1] != colors[0] and colors[0] == colors[2]  # stderr stands out
    assert page.locator("#log-view").inner_text().count(XSS_LINE) == 1  # shown as text
    assert page.evaluate("() => window.__xss") is None
    page.fill("#logs-search", "loss=0.5")
    page.wait_for_function("() => document.querySelectorAll('#log-view .log-line').length === 1")
    assert "epoch 1: loss=0.5000" in page.locator("#log-view").inner_text()
    page.fill("#logs-search", "")
    page.check("#logs-stderr-only")
    page.wait_for_function("() => document.querySelectorAll('#log-view .log-line').length === 1")
    assert page.locator("#log-view .stream-stderr").count() == 1


def test_logs_tab_tails_a_running_run_fetching_only_new_lines(
    page: Any, server: Any, rundata: RunDataRuns
) -> None:
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url) if "/logs?" in r.url else None)
    page.goto(f"{server.url}{RUN_URL}/rd-live/logs")
    page.wait_for_function("() => document.querySelectorAll('#log-view .log-line').length === 42")
    assert "live" in page.locator("#logs-status").inner_text()
    rundata.tail(["new line A", "new line B"])
    page.wait_for_function(
        "() => document.querySelector('#log-view').textContent.includes('new line B')",
        timeout=15_000,
    )
    assert page.locator("#log-view .log-line").count() == 44  # appended, not reloaded
    assert any("after=41" in url for url in urls), urls


def test_files_tab_lists_sizes_and_downloads(
    page: Any, server: Any, rundata: RunDataRuns, tmp_path: Path
) -> None:
    page.goto(f"{server.url}{RUN_URL}/rd-done/files")
    page.wait_for_selector("#files-body tr")
    rows = page.locator("#files-body tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td").nth(0).inner_text().startswith("config.yaml")
    assert rows.nth(0).locator("td").nth(1).inner_text() == "8 B"
    assert rows.nth(1).locator("td").nth(1).inner_text() == "1.5 KB"
    assert "2 files" in page.locator("#files-status").inner_text()
    with page.expect_download() as info:
        page.click("a.file-link:has-text('results/report.txt')")
    download = info.value
    assert download.suggested_filename == "report.txt"
    target = tmp_path / "report.txt"
    download.save_as(str(target))
    assert target.read_bytes() == REPORT


def test_system_section_on_the_run_charts_tab(page: Any, server: Any, rundata: RunDataRuns) -> None:
    page.goto(f"{server.url}{RUN_URL}/rd-done/charts")
    section = page.locator("#system-section")
    assert section.get_attribute("open") is None  # collapsed until opened
    page.click("#system-section > summary")
    page.wait_for_selector("#system-charts [data-key='system/cpu.percent'] .plot .main-svg")
    keys = page.evaluate(
        "() => [...document.querySelectorAll('#system-charts .chart-card')]"
        ".map((c) => c.dataset.key)"
    )
    assert keys == ["system/cpu.percent", "system/gpu.0.gpu", "system/memory.percent"]
    ys = page.evaluate(
        "() => document.querySelector(\"[data-key='system/cpu.percent'] .plot\").data[0].y"
    )
    assert ys == [20.0, 21.0, 22.0, 23.0]
    assert "3 metrics, 4 samples" in page.locator("#system-status").inner_text()


def test_system_section_in_the_workspace_draws_the_drawn_runs(
    page: Any, server: Any, rundata: RunDataRuns
) -> None:
    page.goto(f"{server.url}/projects/alice/{PROJECT}")
    page.wait_for_selector("#run-list li.run-row.is-drawn")
    page.click("#system-section > summary")
    page.wait_for_function(
        "() => { const p = document.querySelector(\"#system-charts [data-key='system/gpu.0.gpu']"
        ' .plot"); return p && p.data && p.data.length === 2; }'
    )
    names = page.evaluate(
        "() => document.querySelector(\"#system-charts [data-key='system/gpu.0.gpu'] .plot\")"
        ".data.map((t) => t.name).sort()"
    )
    assert names == ["rd-done", "rd-live"]
