"""The registry's REST handlers over an in-memory store, one request each (the broker-backed
app is exercised in tests/integration/embedded/schema_registry). The handlers are module
functions that find the store and the body limit on `app.state`."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from fraudstream.embedded.schema_registry.app import V1_JSON, create_app
from fraudstream.embedded.schema_registry.store import SchemaStore

SCHEMA = json.dumps({"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]})


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(SchemaStore(), max_body_bytes=4096))


def test_register_then_read_back_by_id_and_version(client: TestClient) -> None:
    got = client.post("/subjects/t-value/versions", content=json.dumps({"schema": SCHEMA}),
                      headers={"Content-Type": V1_JSON})
    assert got.status_code == 200 and got.headers["content-type"].startswith(V1_JSON)
    schema_id = got.json()["id"]
    assert json.loads(client.get(f"/schemas/ids/{schema_id}").json()["schema"]) == json.loads(SCHEMA)
    assert client.get("/subjects/t-value/versions").json() == [1]
    assert client.get("/subjects/t-value/versions/latest").json()["id"] == schema_id


@pytest.mark.parametrize("request_kwargs, status, code", [
    ({"headers": {"Accept": "text/html"}}, 406, 406),
    ({"headers": {"Content-Type": "text/plain"}, "content": "{}"}, 415, 415),
    ({"headers": {"Content-Type": V1_JSON}, "content": "{not json"}, 400, 400),
    ({"headers": {"Content-Type": V1_JSON}, "content": json.dumps({"schema": "x" * 5000})}, 413, 413),
    ({"headers": {"Content-Type": V1_JSON}, "content": json.dumps({"schema": "{"})}, 422, 42201),
])
def test_client_mistakes_get_the_registry_error_body(client: TestClient, request_kwargs, status, code) -> None:
    got = client.post("/subjects/t-value/versions", **request_kwargs)
    assert got.status_code == status
    assert got.json()["error_code"] == code and got.json()["message"]


def test_unknown_subject_and_id_are_404_with_registry_codes(client: TestClient) -> None:
    assert client.get("/subjects/nope/versions/1").json()["error_code"] == 40401
    assert client.get("/schemas/ids/99").json()["error_code"] == 40403
