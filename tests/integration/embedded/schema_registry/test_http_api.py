"""The REST surface over real HTTP: bodies, status codes, error codes and content types."""

from __future__ import annotations

import json

import httpx
import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from tests.integration.embedded.schema_registry.conftest import SR_JSON
from tests.unit.embedded.schema_registry.evolutions import EVOLUTIONS, rec

pytestmark = pytest.mark.integration

V1 = rec([{"name": "id", "type": "string"}])
V2 = rec([{"name": "id", "type": "string"}, {"name": "amount", "type": "double", "default": 0.0}])
BREAKS = rec([{"name": "id", "type": "string"}, {"name": "must", "type": "int"}])
POST_HEADERS = {"Content-Type": SR_JSON}


def _register(http: httpx.Client, subject: str, schema: str) -> httpx.Response:
    return http.post(f"/subjects/{subject}/versions", json={"schema": schema, "schemaType": "AVRO", "references": []},
                     headers=POST_HEADERS)


def _error(resp: httpx.Response) -> tuple[int, int, str]:
    body = resp.json()
    assert set(body) == {"error_code", "message"}, body
    return resp.status_code, body["error_code"], body["message"]


def test_root_types_and_content_type(http: httpx.Client) -> None:
    r = http.get("/")
    assert r.status_code == 200 and r.json() == {}
    assert r.headers["content-type"] == SR_JSON
    assert http.get("/schemas/types").json() == ["JSON", "PROTOBUF", "AVRO"]
    assert http.get("/", headers={"Accept": "application/json"}).headers["content-type"] == "application/json"
    assert http.get("/", headers={"Accept": "application/vnd.schemaregistry+json"}).headers["content-type"] == \
        "application/vnd.schemaregistry+json"
    # the Python client's Accept header: the v1 type wins by weight
    accept = "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json"
    assert http.get("/", headers={"Accept": accept}).headers["content-type"] == SR_JSON
    assert http.get("/", headers={"Accept": "*/*"}).headers["content-type"] == SR_JSON
    bad = http.get("/", headers={"Accept": "text/html"})
    assert _error(bad)[:2] == (406, 406)


def test_register_version_lookup_and_ids(http: httpx.Client, subject: str) -> None:
    r1 = _register(http, subject, V1)
    assert r1.status_code == 200 and set(r1.json()) == {"id"}
    id1 = r1.json()["id"]
    assert _register(http, subject, json.dumps(json.loads(V1), indent=2)).json() == {"id": id1}
    id2 = _register(http, subject, V2).json()["id"]
    assert id2 != id1
    assert http.get(f"/subjects/{subject}/versions").json() == [1, 2]
    latest = http.get(f"/subjects/{subject}/versions/latest").json()
    assert latest == {"subject": subject, "version": 2, "id": id2,
                      "schema": json.dumps(json.loads(V2), separators=(",", ":"))}
    assert http.get(f"/subjects/{subject}/versions/1").json()["id"] == id1
    assert http.get(f"/subjects/{subject}/versions/1/schema").json() == json.loads(V1)
    assert http.get(f"/schemas/ids/{id1}", params={"subject": subject, "fetchMaxId": "false"}).json() == \
        {"schema": latest["schema"].replace(',{"name":"amount","type":"double","default":0.0}', "")}
    # ids are global: other tests' subjects may share this schema, so look for ours among them
    assert {"subject": subject, "version": 2} in http.get(f"/schemas/ids/{id2}/versions").json()
    assert subject in http.get(f"/schemas/ids/{id2}/subjects").json()
    found = http.post(f"/subjects/{subject}?normalize=False&deleted=False", json={"schema": V1},
                      headers=POST_HEADERS).json()
    assert (found["version"], found["id"], found["subject"]) == (1, id1, subject)
    assert subject in http.get("/subjects").json()
    assert http.get("/subjects", params={"subjectPrefix": subject}).json() == [subject]
    assert http.get("/subjects", params={"subjectPrefix": "no-such-prefix-" + subject}).json() == []


def test_same_schema_other_subject_same_id(http: httpx.Client, subject: str) -> None:
    id_a = _register(http, subject, V2).json()["id"]
    id_b = _register(http, "other-" + subject, V2).json()["id"]
    assert id_a == id_b
    assert http.get(f"/subjects/other-{subject}/versions/latest").json()["version"] == 1


@pytest.mark.parametrize("level", ["NONE", "BACKWARD", "FORWARD", "FULL",
                                   "BACKWARD_TRANSITIVE", "FORWARD_TRANSITIVE", "FULL_TRANSITIVE"])
def test_compatibility_matrix_over_http(http: httpx.Client, subject: str, level: str) -> None:
    """Every evolution under every level: 200 when Avro's rules allow it, else 409/40901 and no change."""
    base = level.removesuffix("_TRANSITIVE")
    for evo in EVOLUTIONS:
        s = f"{subject}-{evo.id}"
        assert http.put(f"/config/{s}", json={"compatibility": level}, headers=POST_HEADERS).json() == \
            {"compatibility": level}
        assert _register(http, s, evo.old).status_code == 200
        expected = {"NONE": True, "BACKWARD": evo.backward, "FORWARD": evo.forward,
                    "FULL": evo.backward and evo.forward}[base]
        check = http.post(f"/compatibility/subjects/{s}/versions/latest?normalize=False&verbose=True",
                          json={"schema": evo.new}, headers=POST_HEADERS).json()
        assert check["is_compatible"] is expected, (evo.id, check)
        assert (check["messages"] == []) is expected
        before = http.get(f"/subjects/{s}/versions").json()
        resp = _register(http, s, evo.new)
        if expected:
            assert resp.status_code == 200, (evo.id, resp.text)
            # A docs-only change equals the old schema by Avro's Schema.equals: no new version.
            grown = before if evo.id == "doc_only_change" else before + [2]
            assert http.get(f"/subjects/{s}/versions").json() == grown
        else:
            status, code, message = _error(resp)
            assert (status, code) == (409, 40901), (evo.id, resp.text)
            assert message.startswith(f'Schema being registered is incompatible with an earlier schema for subject "{s}"')
            assert http.get(f"/subjects/{s}/versions").json() == before
            assert http.get(f"/subjects/{s}/versions/latest").json()["version"] == 1


def test_config_endpoints(http: httpx.Client, subject: str) -> None:
    assert http.get("/config").json() == {"compatibilityLevel": "BACKWARD"}
    status, code, message = _error(http.get(f"/config/{subject}"))
    assert (status, code) == (404, 40408) and subject in message
    assert http.get(f"/config/{subject}?defaultToGlobal=TRUE").json() == {"compatibilityLevel": "BACKWARD"}
    assert http.put(f"/config/{subject}", json={"compatibility": "forward_transitive"},
                    headers=POST_HEADERS).json() == {"compatibility": "FORWARD_TRANSITIVE"}
    assert http.get(f"/config/{subject}").json() == {"compatibilityLevel": "FORWARD_TRANSITIVE"}
    bad = http.put(f"/config/{subject}", json={"compatibility": "SIDEWAYS"}, headers=POST_HEADERS)
    assert _error(bad)[:2] == (422, 42203)
    assert http.delete(f"/config/{subject}").json() == {"compatibilityLevel": "FORWARD_TRANSITIVE"}
    assert _error(http.get(f"/config/{subject}"))[1] == 40408
    client = SchemaRegistryClient({"url": str(http.base_url)})
    assert client.set_compatibility(subject, "FULL") == {"compatibility": "FULL"}
    assert client.get_compatibility(subject) == "FULL"


def _private(schema: str, subject: str) -> str:
    """The schema in a namespace of its own, so that its id is not shared with other tests."""
    parsed = json.loads(schema)
    parsed["namespace"] = "t" + "".join(c for c in subject if c.isalnum())[-40:]
    return json.dumps(parsed)


def test_delete_subject_and_versions_like_the_python_client_expects(http: httpx.Client, subject: str) -> None:
    client = SchemaRegistryClient({"url": str(http.base_url)})
    v1, v2 = _private(V1, subject), _private(V2, subject)
    id1 = client.register_schema(subject, Schema(v1, "AVRO"))
    client.register_schema(subject, Schema(v2, "AVRO"))
    assert client.delete_version(subject, 1) == 1
    assert client.get_versions(subject) == [2]
    assert http.get(f"/subjects/{subject}/versions/1").status_code == 404
    assert http.get(f"/subjects/{subject}/versions/1?deleted=true").json()["id"] == id1
    assert client.get_schema(id1).schema_str  # ids of soft-deleted versions still resolve
    with pytest.raises(SchemaRegistryError) as info:
        client.delete_subject(subject, permanent=True)
    assert info.value.error_code == 40405
    assert client.delete_subject(subject) == [2]
    assert subject not in client.get_subjects()
    assert _error(http.get(f"/subjects/{subject}/versions"))[:2] == (404, 40401)
    assert http.delete(f"/subjects/{subject}?permanent=TRUE").json() == [1, 2]
    assert _error(http.delete(f"/subjects/{subject}"))[:2] == (404, 40401)
    assert _error(http.get(f"/schemas/ids/{id1}"))[:2] == (404, 40403)


def test_read_only_mode_and_referenced_by(http: httpx.Client, subject: str) -> None:
    client = SchemaRegistryClient({"url": str(http.base_url)})
    client.register_schema(subject, Schema(V1, "AVRO"))
    assert client.get_referenced_by(subject, 1) == []
    assert _error(http.get(f"/subjects/{subject}/versions/5/referencedby"))[:2] == (404, 40402)
    assert client.get_global_mode() == "READWRITE"
    assert http.get(f"/mode/{subject}?defaultToGlobal=true").json() == {"mode": "READWRITE"}
    assert _error(http.get(f"/mode/{subject}"))[:2] == (404, 40409)
    assert _error(http.put("/mode", json={"mode": "READONLY"}, headers=POST_HEADERS))[:2] == (405, 405)
