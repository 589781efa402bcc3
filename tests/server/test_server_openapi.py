"""Schemathesis against the OpenAPI document: no generated request makes the server fail (5xx)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from server_world import World, make_world

KEYS: dict[str, str] = {}
EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 10}
"""Examples per operation: enough to find a crash, few enough to keep the run short."""


@pytest.fixture(scope="module")
def fuzzed_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """An app with a run in it, so that generated paths sometimes find something."""
    store = str(tmp_path_factory.mktemp("fuzz") / "server.db")
    for world in make_world(store):
        world.log_run("alice", "alice", "mnist", "r1", rows=5, summary={"loss": 0.1})
        KEYS.update(world.keys)
        yield world


def test_the_document_is_served(fuzzed_world: World) -> None:
    document = fuzzed_world.client.get("/api/v1/openapi.json").json()
    assert "/api/v1/runs/{entity}/{project}/{run_id}/records" in document["paths"]
    assert fuzzed_world.client.get("/api/v1/docs").status_code == 200


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_generated_request_is_a_server_error(fuzzed_world: World, mode: GenerationMode) -> None:
    """Every operation, with data that fits its schema and data that does not (bounded
    examples each, so the whole run stays well under a minute)."""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzzed_world.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    if mode is GenerationMode.NEGATIVE:  # path-only operations: positive mode covers them
        operations = [op for op in operations if op.body or list(op.query)]
    for operation in operations:
        user = "alice" if operation.method.upper() == "POST" else "admin"
        check = _fuzz(operation, mode, {"Authorization": f"Bearer {KEYS[user]}"})
        try:
            check()
        except Unsatisfiable:  # nothing invalid to send (e.g. GET /version has no input)
            assert mode is GenerationMode.NEGATIVE


def _fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> Any:
    """A Hypothesis test sending generated requests to ``operation``."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    return check
