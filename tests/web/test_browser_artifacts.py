"""The artifact page and the run Overview's artifact sections in a real browser (Debian's
Chromium): versions, aliases, files with sizes, metadata, producing and consuming runs, the
lineage graph, a file download, and the project's artifact list."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_kit import LiveServer, build_app, shot

import kiseki

pytestmark = pytest.mark.slow
PROJECT = "artsy"


@pytest.fixture(scope="module")
def artifact_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A store where a run logged two versions of a dataset and two runs used v1."""
    directory = tmp_path_factory.mktemp("artifact-web")
    files = tmp_path_factory.mktemp("artifact-files")
    settings = {"kiseki_dir": str(directory), "silent": True}

    def dataset(rows: str) -> kiseki.Artifact:
        (files / "train.csv").write_text(rows)
        artifact = kiseki.Artifact(
            "mnist", type="dataset", description="digits", metadata={"rows": rows.count("\n")}
        )
        artifact.add_file(files / "train.csv")
        with artifact.new_file("labels/names.txt") as out:
            out.write("zero\none\n")
        return artifact

    producer = kiseki.init(project=PROJECT, name="prepare-data", settings=settings)
    producer.log_artifact(dataset("a,b\n1,2\n"))
    producer.log_artifact(dataset("a,b\n1,2\n3,4\n"), aliases=["best"])
    producer.finish()
    consumers = []
    for name in ("train-<b>bold</b>", "evaluate"):
        run = kiseki.init(project=PROJECT, name=name, settings=settings)
        run.use_artifact("mnist:best")
        run.finish()
        consumers.append(run)
    server = LiveServer(build_app(directory))
    yield {"server": server, "producer": producer, "consumers": consumers}
    server.stop()


def test_the_artifact_page_shows_versions_files_metadata_and_lineage(
    page: Any, artifact_world: dict[str, Any]
) -> None:
    server, producer = artifact_world["server"], artifact_world["producer"]
    entity = producer.entity
    page.goto(f"{server.url}/projects/{entity}/{PROJECT}/artifacts/mnist")
    assert page.inner_text("#artifact-title") == "mnist:v1"
    assert page.locator(".run-head .alias").all_inner_texts() == ["latest", "best"]
    versions = page.locator("#artifact-versions tbody tr")
    assert versions.count() == 2
    assert versions.nth(0).inner_text().startswith("v1")
    assert "digits" in page.inner_text("main")
    files = page.locator("#artifact-files tbody tr")
    assert [files.nth(i).get_attribute("data-path") for i in range(2)] == [
        "labels/names.txt",
        "train.csv",
    ]
    assert "12 B" in files.nth(1).inner_text()  # a,b 1,2 3,4
    assert "rows" in page.inner_text("#artifact-metadata")
    assert page.inner_text("#artifact-producer").startswith("prepare-data")
    consumers = page.inner_text("#artifact-consumers")
    assert "train-<b>bold</b>" in consumers and "evaluate" in consumers
    graph = page.locator("#lineage svg")
    assert graph.locator("text").all_text_contents() == [
        "prepare-data",
        "train-<b>bold</b>",
        "evaluate",
        "mnist:v1",
    ]
    assert page.locator("#lineage b").count() == 0  # names are text, never markup
    shot(page, "artifact-page")

    with page.expect_download() as download:
        page.click("#artifact-files a >> text=train.csv")
    assert Path(download.value.path()).read_text() == "a,b\n1,2\n3,4\n"

    page.click("#artifact-versions a >> text=v0")
    page.wait_for_url("**/artifacts/mnist/v0")
    assert page.inner_text("#artifact-title") == "mnist:v0"
    assert page.inner_text("#artifact-consumers") == "no run yet"
    page.click("#lineage a >> text=prepare-data")
    page.wait_for_url(f"**/runs/{producer.id}")


def test_the_run_overview_lists_its_artifact_outputs_and_inputs(
    page: Any, artifact_world: dict[str, Any]
) -> None:
    server, producer = artifact_world["server"], artifact_world["producer"]
    consumer = artifact_world["consumers"][0]
    page.goto(f"{server.url}/projects/{producer.entity}/{PROJECT}/runs/{producer.id}")
    page.wait_for_selector("#artifact-outputs li")
    assert page.locator("#artifact-outputs li a").all_inner_texts() == ["mnist:v0", "mnist:v1"]
    assert page.is_visible("#artifact-inputs-empty")
    shot(page, "run-overview-artifacts")

    page.goto(f"{server.url}/projects/{consumer.entity}/{PROJECT}/runs/{consumer.id}")
    page.wait_for_selector("#artifact-inputs li")
    assert page.locator("#artifact-inputs li a").all_inner_texts() == ["mnist:v1"]
    assert "best" in page.inner_text("#artifact-inputs")
    assert page.is_visible("#artifact-outputs-empty")
    page.click("#artifact-inputs a")
    page.wait_for_url("**/artifacts/mnist/v1")


def test_the_project_lists_its_artifacts(page: Any, artifact_world: dict[str, Any]) -> None:
    server, producer = artifact_world["server"], artifact_world["producer"]
    page.goto(f"{server.url}/projects/{producer.entity}/{PROJECT}")
    page.click("#artifacts-link")
    page.wait_for_url("**/artifacts")
    rows = page.locator("#artifact-list tbody tr")
    assert rows.count() == 1 and "dataset" in rows.nth(0).inner_text()
    page.click("#artifact-list a")
    page.wait_for_url("**/artifacts/mnist")
