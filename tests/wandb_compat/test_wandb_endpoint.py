"""The W&B-compatible endpoint in-process (no wandb package needed): the lenient executor,
login, run upsert, file_stream semantics, stop answers and signed URLs, on SQLite and
PostgreSQL."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_world import World, make_world, store_for

from kiseki import jsoncodec
from kiseki.errors import AuthError
from kiseki.wandb_compat.executor import execute
from kiseki.wandb_compat.urls import UrlSigner
from kiseki.wandb_compat.writer import console_line

UPSERT = """
mutation UpsertBucket($name: String, $project: String, $entity: String, $config: JSONString,
                      $tags: [String!], $notes: String, $groupName: String, $host: String,
                      $program: String, $futureField: String) {
  upsertBucket(input: {name: $name, modelName: $project, entityName: $entity, config: $config,
                       tags: $tags, notes: $notes, groupName: $groupName, host: $host,
                       program: $program, fieldFromTheFuture: $futureField}) {
    bucket { id name displayName historyLineCount somethingNew
             project { name entity { name } } }
    inserted
  }
}
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """The app with users (alice, bob, ...) on SQLite, then on PostgreSQL."""
    yield from make_world(store_for(request, request.param, tmp_path))


def basic(world: World, user: str) -> dict[str, str]:
    """The client's auth header: Basic ``api:<key>``."""
    token = base64.b64encode(f"api:{world.keys[user]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def graphql(world: World, user: str | None, query: str, **variables: Any) -> dict[str, Any]:
    headers = basic(world, user) if user else {}
    body = {"query": query, "variables": variables, "operationName": ""}
    response = world.client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def stream(world: World, user: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = world.client.post(
        f"/files/{path}/file_stream", json=body, headers=basic(world, user)
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def history_lines(first: int, count: int) -> list[str]:
    return [
        jsoncodec.dumps({"loss": 1.0 / (i + 1), "deep": {"x": i}, "_step": i, "_runtime": i})
        for i in range(first, first + count)
    ]


def test_the_executor_answers_unknown_fields_null_and_follows_fragments() -> None:
    roots = {"thing": lambda args: {"a": args.get("n"), "b": {"c": lambda _args: 3}}}
    query = """
    query ($n: Int, $yes: Boolean!) {
      x: thing(n: $n, unknownArg: 1) { a ...F extra @include(if: $yes) }
      nobody { field }
    }
    fragment F on Thing { b { c missing } }
    """
    answer = execute(query, {"n": 7, "yes": False}, None, roots)
    assert answer == {"data": {"x": {"a": 7, "b": {"c": 3, "missing": None}}, "nobody": None}}
    assert "errors" in execute("query {", {}, None, roots)


def test_a_bad_key_is_no_viewer_and_a_good_key_is_one(world: World) -> None:
    assert graphql(world, "alice", "query Viewer { viewer { id entity } }")["data"] == {
        "viewer": {"id": "alice", "entity": "alice"}
    }
    bad = world.client.post(
        "/graphql",
        json={"query": "query { viewer { id } }"},
        headers={"Authorization": "Basic " + base64.b64encode(b"api:ks-" + b"0" * 48).decode()},
    )
    assert bad.json() == {"data": {"viewer": None}}


def test_upsert_and_file_stream_map_onto_a_kiseki_run(world: World) -> None:
    config = {"lr": {"value": 0.1, "desc": None}, "_wandb": {"value": {"cli_version": "x"}}}
    answer = graphql(
        world,
        "alice",
        UPSERT,
        name="r1",
        project="p",
        entity=None,
        config=jsoncodec.dumps(config),
        tags=["t"],
        notes="n",
        groupName="g",
        host="h",
        program="train.py",
        futureField="ignored",
    )
    bucket = answer["data"]["upsertBucket"]["bucket"]
    assert "errors" not in answer
    assert bucket["project"] == {"name": "p", "entity": {"name": "alice"}}
    assert bucket["name"] == "r1" and bucket["historyLineCount"] == 0
    assert bucket["somethingNew"] is None
    path = "alice/p/r1"
    first = {"files": {"wandb-history.jsonl": {"offset": 0, "content": history_lines(0, 3)}}}
    assert stream(world, "alice", path, first) == {}
    assert stream(world, "alice", path, first) == {}  # a repeated request changes nothing
    second = {
        "files": {
            "wandb-history.jsonl": {"offset": 3, "content": history_lines(3, 2)},
            "wandb-summary.json": {"offset": 0, "content": ['{"loss": 0.2, "_wandb": {}}']},
            "output.log": {"offset": 0, "content": ["2024-05-01T12:00:00.000000 hello"]},
        }
    }
    stream(world, "alice", path, second)
    assert stream(world, "alice", path, {}) == {}  # heartbeat
    stream(world, "alice", path, {"complete": True, "exitcode": 1})
    run = world.get("alice", "runs/alice/p/r1").json()
    assert run["state"] == "failed" and run["exit_code"] == 1
    assert run["config"] == {"lr": 0.1}
    assert run["summary"] == {"loss": 0.2}
    assert run["tags"] == ["t"] and run["notes"] == "n" and run["group"] == "g"
    assert run["metadata"]["host"] == "h" and run["metadata"]["program"] == "train.py"
    rows = world.history("alice", "alice/p/r1")
    assert [(r["_step"], r["deep.x"]) for r in rows] == [(i, i) for i in range(5)]


def test_a_stopped_run_is_told_to_stop(world: World) -> None:
    graphql(world, "alice", UPSERT, name="r2", project="p", entity="alice")
    stopped = world.client.post("/api/v1/runs/alice/p/r2/stop", headers=world.auth("alice"))
    assert stopped.status_code == 200, stopped.text
    assert stream(world, "alice", "alice/p/r2", {}) == {"stopped": True}


def test_another_users_entity_is_refused(world: World) -> None:
    answer = graphql(world, "bob", UPSERT, name="r3", project="p", entity="alice")
    assert answer["data"]["upsertBucket"] is None
    assert "alice" in answer["errors"][0]["message"]


def test_signed_urls_refuse_tampering_and_expiry() -> None:
    signer = UrlSigner(b"k" * 32, lifetime_s=60)
    url = signer.sign("http://h", "PUT", "/wandb-files/upload/a/p/r/f.txt")
    query = dict(part.split("=") for part in url.split("?")[1].split("&"))
    signer.check("PUT", "/wandb-files/upload/a/p/r/f.txt", query["expires"], query["signature"])
    with pytest.raises(AuthError):
        signer.check("PUT", "/wandb-files/upload/a/p/r/g.txt", query["expires"], query["signature"])
    with pytest.raises(AuthError):
        signer.check("GET", "/wandb-files/upload/a/p/r/f.txt", query["expires"], query["signature"])
    past = str(int(time.time()) - 1)
    with pytest.raises(AuthError):
        signer.check("PUT", "/x", past, signer._signature("PUT", "/x", int(past)))


def test_console_lines_keep_their_time_and_stream() -> None:
    assert console_line("2024-05-01T12:00:00+00:00 hello world") == [
        1714564800.0,
        "stdout",
        "hello world",
    ]
    assert console_line("ERROR 2024-05-01T12:00:00+00:00 boom\n")[1:] == ["stderr", "boom"]


RUNS = """
query Runs($project: String!, $entity: String!, $cursor: String, $perPage: Int,
           $order: String, $filters: JSONString) {
  project(name: $project, entityName: $entity) {
    internalId
    runCount(filters: $filters)
    runs(filters: $filters, after: $cursor, first: $perPage, order: $order) {
      edges { node { name config summaryMetrics } cursor }
      pageInfo { endCursor hasNextPage }
    }
  }
}
"""


def test_runs_are_filtered_ordered_and_paged_as_the_read_api_asks(world: World) -> None:
    for i in range(5):
        config = jsoncodec.dumps({"lr": {"value": i / 10}})
        graphql(world, "alice", UPSERT, name=f"run{i}", project="q", entity="alice", config=config)
    filters = jsoncodec.dumps({"config.lr.value": {"$gte": 0.1}})
    names: list[str] = []
    cursor = None
    while True:
        answer = graphql(
            world,
            "alice",
            RUNS,
            project="q",
            entity="alice",
            cursor=cursor,
            perPage=2,
            order="-config.lr.value",
            filters=filters,
        )
        project = answer["data"]["project"]
        assert project["runCount"] == 4
        page = project["runs"]
        names.extend(edge["node"]["name"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        cursor = page["pageInfo"]["endCursor"]
    assert names == ["run4", "run3", "run2", "run1"]
    node = answer["data"]["project"]["runs"]["edges"][-1]["node"]
    assert jsoncodec.loads(node["config"]) == {"lr": {"value": 0.1, "desc": None}}
    assert isinstance(node["summaryMetrics"], str)


def test_a_line_that_is_not_json_is_refused_whole(world: World) -> None:
    graphql(world, "alice", UPSERT, name="r4", project="p", entity="alice")
    lines = [*history_lines(0, 2), "{not json"]
    body = {"files": {"wandb-history.jsonl": {"offset": 0, "content": lines}}}
    response = world.client.post(
        "/files/alice/p/r4/file_stream", json=body, headers=basic(world, "alice")
    )
    assert response.status_code == 400
    assert "wandb-history.jsonl line 2" in response.json()["error"]
    assert world.get("alice", "runs/alice/p/r4").json()["history_rows"] == 0


def console_texts(world: World, path: str) -> list[tuple[int, str]]:
    answer = world.get("alice", f"runs/{path}/logs")
    assert answer.status_code == 200, answer.text
    return [(line["line_no"], line["text"]) for line in answer.json()["lines"]]


def output(offset: int, *texts: str) -> dict[str, Any]:
    stamped = [f"2024-05-01T12:00:0{i}.000000 {text}" for i, text in enumerate(texts)]
    return {"files": {"output.log": {"offset": offset, "content": stamped}}}


def test_a_console_line_resent_at_its_offset_replaces_the_stored_one(world: World) -> None:
    graphql(world, "alice", UPSERT, name="r5", project="p", entity="alice")
    path = "alice/p/r5"
    stream(world, "alice", path, output(0, "epoch 1", "progress 1/3"))
    stream(world, "alice", path, output(1, "progress 2/3"))  # the client redraws line 1
    stream(world, "alice", path, output(1, "progress 3/3", "done"))
    stream(world, "alice", path, output(1, "progress 3/3", "done"))  # a repeated request
    assert console_texts(world, path) == [(0, "epoch 1"), (1, "progress 3/3"), (2, "done")]
    stream(world, "alice", path, output(3, "after"))
    assert console_texts(world, path)[-1] == (3, "after")


def test_a_nested_history_value_is_a_dotted_key_and_the_summary_stays_nested(
    world: World,
) -> None:
    graphql(world, "alice", UPSERT, name="r6", project="p", entity="alice")
    row = jsoncodec.dumps({"train": {"acc": 0.5, "deep": {"x": 1}}, "val/acc": 0.4, "_step": 0})
    summary = jsoncodec.dumps({"train": {"acc": 0.5, "deep": {"x": 1}}, "val/acc": 0.4})
    body = {
        "files": {
            "wandb-history.jsonl": {"offset": 0, "content": [row]},
            "wandb-summary.json": {"offset": 0, "content": [summary]},
        }
    }
    stream(world, "alice", "alice/p/r6", body)
    [stored] = world.history("alice", "alice/p/r6")
    assert {k: v for k, v in stored.items() if not k.startswith("_")} == {
        "train.acc": 0.5,
        "train.deep.x": 1,
        "val/acc": 0.4,
    }
    run = world.get("alice", "runs/alice/p/r6").json()
    assert run["summary"] == {"train": {"acc": 0.5, "deep": {"x": 1}}, "val/acc": 0.4}
