"""kiseki.init: projects, ids, names, the active run, reinit, settings from the environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import kiseki
from kiseki.errors import ConfigError, UsageError


def test_no_project_goes_to_uncategorized_and_is_read_back() -> None:
    run = kiseki.init()
    run.finish()
    stored = kiseki.Api().run(f"Uncategorized/{run.id}")
    assert stored.project == "Uncategorized"
    assert stored.state == "finished"


def test_run_id_is_eight_lowercase_alphanumerics_and_unique() -> None:
    ids = set()
    for _ in range(5):
        run = kiseki.init(project="ids")
        assert re.fullmatch(r"[a-z0-9]{8}", run.id)
        ids.add(run.id)
        run.finish()
    assert len(ids) == 5


@pytest.mark.parametrize("bad", ["a/b", "a\\b", "a#b", "a?b", "a%b", "a:b"])
def test_run_id_with_path_characters_is_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="cannot appear in run paths"):
        kiseki.init(project="p", id=bad)
    assert kiseki.run is None


def test_given_id_and_name_are_kept() -> None:
    run = kiseki.init(project="p", id="my-run_1", name="baseline")
    run.finish()
    stored = kiseki.Api().run("p/my-run_1")
    assert stored.name == "baseline"


def test_generated_names_count_runs_in_the_project() -> None:
    names = []
    for _ in range(3):
        run = kiseki.init(project="counted")
        names.append(run.name)
        run.finish()
    other = kiseki.init(project="elsewhere")
    other.finish()
    numbers = [int(name.rsplit("-", 1)[1]) for name in names]
    assert numbers == [1, 2, 3]
    assert all(re.fullmatch(r"[a-z]+-[a-z]+-\d+", name) for name in names)
    assert other.name.endswith("-1")


def test_kiseki_run_is_none_before_init_and_after_finish() -> None:
    assert kiseki.run is None
    run = kiseki.init(project="p")
    assert kiseki.run is run
    kiseki.finish()
    assert kiseki.run is None


def test_with_block_finishes_the_run() -> None:
    with kiseki.init(project="p") as run:
        run.log({"x": 1})
    assert kiseki.run is None
    assert kiseki.Api().run(run.path).state == "finished"


def test_with_block_that_raises_marks_failed_and_reraises() -> None:
    with pytest.raises(ZeroDivisionError), kiseki.init(project="p") as run:
        run.log({"x": 1})
        1 / 0  # noqa: B018
    stored = kiseki.Api().run(run.path)
    assert stored.state == "failed"
    assert stored.exit_code == 1


def test_finish_with_nonzero_exit_code_marks_failed() -> None:
    run = kiseki.init(project="p")
    kiseki.finish(exit_code=2)
    assert kiseki.Api().run(run.path).state == "failed"


def test_init_while_active_returns_the_active_run_with_a_warning() -> None:
    first = kiseki.init(project="p")
    with pytest.warns(kiseki.KisekiWarning, match="returning it"):
        second = kiseki.init(project="p")
    assert second is first


def test_reinit_finish_previous_finishes_the_active_run() -> None:
    first = kiseki.init(project="p")
    second = kiseki.init(project="p", reinit="finish_previous")
    assert second is not first
    assert first.finished
    assert kiseki.run is second


def test_reinit_create_new_keeps_both_runs_open() -> None:
    first = kiseki.init(project="p")
    second = kiseki.init(project="p", reinit="create_new")
    first.log({"a": 1})
    second.log({"b": 2})
    assert kiseki.run is second
    second.finish()
    assert kiseki.run is first
    first.finish()
    api = kiseki.Api()
    assert api.run(first.path).summary["a"] == 1
    assert api.run(second.path).summary["b"] == 2


def test_unknown_reinit_value_is_refused() -> None:
    with pytest.raises(UsageError, match="reinit"):
        kiseki.init(project="p", reinit="sometimes")


def test_unknown_argument_is_refused() -> None:
    with pytest.raises(UsageError, match="colour"):
        kiseki.init(project="p", colour="red")


def test_environment_fills_what_arguments_leave_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KISEKI_PROJECT", "from-env")
    monkeypatch.setenv("KISEKI_NOTES", "env notes")
    monkeypatch.setenv("KISEKI_TAGS", "a, b")
    monkeypatch.setenv("KISEKI_RUN_GROUP", "g1")
    monkeypatch.setenv("KISEKI_JOB_TYPE", "train")
    monkeypatch.setenv("KISEKI_NAME", "env-name")
    monkeypatch.setenv("KISEKI_RUN_ID", "envid123")
    run = kiseki.init()
    run.finish()
    stored = kiseki.Api().run("from-env/envid123")
    assert (stored.name, stored.notes, stored.group, stored.job_type) == (
        "env-name",
        "env notes",
        "g1",
        "train",
    )
    assert list(stored.tags) == ["a", "b"]


def test_wandb_variables_are_a_fallback_and_kiseki_ones_win(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WANDB_PROJECT", "wandb-project")
    monkeypatch.setenv("WANDB_ENTITY", "team-w")
    run = kiseki.init()
    assert (run.project, run.entity) == ("wandb-project", "team-w")
    run.finish()
    monkeypatch.setenv("KISEKI_PROJECT", "kiseki-project")
    run = kiseki.init()
    assert run.project == "kiseki-project"
    run.finish()


def test_explicit_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KISEKI_PROJECT", "from-env")
    monkeypatch.setenv("KISEKI_ENTITY", "env-entity")
    run = kiseki.init(project="explicit", entity="me")
    assert (run.project, run.entity) == ("explicit", "me")


def test_invalid_mode_in_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KISEKI_MODE", "sometimes")
    with pytest.raises(ConfigError, match="KISEKI_MODE"):
        kiseki.init(project="p")


def test_unknown_setting_is_refused() -> None:
    with pytest.raises(ConfigError, match="nonsense"):
        kiseki.init(project="p", settings={"nonsense": 1})


def test_disabled_mode_records_nothing_but_keeps_the_api(kiseki_dir: Path) -> None:
    run = kiseki.init(project="p", mode="disabled", config={"lr": 0.1})
    run.log({"loss": 1.0})
    run.summary["best"] = 1
    run.config.update({"layers": 2})
    assert run.config.lr == 0.1
    assert run.summary["loss"] == 1.0
    run.finish()
    assert not (kiseki_dir / "kiseki.db").exists()
    assert not (kiseki_dir / "runs").exists()


def test_offline_mode_writes_only_the_run_log(kiseki_dir: Path) -> None:
    run = kiseki.init(project="p", mode="offline")
    run.log({"loss": 1.0})
    run.finish()
    assert (Path(run.dir) / "run.log").stat().st_size > 0
    assert not (kiseki_dir / "kiseki.db").exists()


def test_dir_argument_places_the_run_log(tmp_path: Path) -> None:
    run = kiseki.init(project="p", dir=tmp_path / "mine")
    run.finish()
    assert Path(run.dir).parent == tmp_path / "mine"
    assert (Path(run.dir) / "run.log").exists()


def test_run_fields_changed_during_the_run_are_stored() -> None:
    run = kiseki.init(project="p", tags=["a"])
    run.name = "renamed"
    run.notes = "some notes"
    run.tags = ["a", "b"]
    run.group = "grp"
    run.job_type = "eval"
    run.finish()
    stored = kiseki.Api().run(run.path)
    assert (stored.name, stored.notes, stored.group, stored.job_type) == (
        "renamed",
        "some notes",
        "grp",
        "eval",
    )
    assert list(stored.tags) == ["a", "b"]


def test_init_arguments_are_stored() -> None:
    run = kiseki.init(
        project="mnist",
        config={"lr": 1e-3, "layers": 3},
        tags=["baseline"],
        notes="first try",
        group="exp-1",
        job_type="train",
    )
    run.finish()
    stored = kiseki.Api().run(f"mnist/{run.id}")
    assert stored.config == {"lr": 1e-3, "layers": 3}
    assert list(stored.tags) == ["baseline"]
    assert stored.notes == "first try"
    assert (stored.group, stored.job_type) == ("exp-1", "train")
    assert stored.entity == run.entity
