"""Bad requests get their 4xx with a clear message; the service keeps serving afterwards."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlparse

import httpx
import pytest

from tests.integration.embedded.schema_registry.conftest import SR_JSON
from tests.unit.embedded.schema_registry.evolutions import rec

pytestmark = pytest.mark.integration

GOOD = rec([{"name": "id", "type": "string"}])
HEADERS = {"Content-Type": SR_JSON}

BAD = [
    # (id, method, path, body bytes or None, headers, status, error_code, message fragment)
    ("malformed_json", "POST", "/subjects/{s}/versions", b'{"schema": ', HEADERS, 400, 400, "not valid JSON"),
    ("json_not_an_object", "POST", "/subjects/{s}/versions", b'["a"]', HEADERS, 422, 422, "JSON object"),
    ("schema_not_a_string", "POST", "/subjects/{s}/versions", b'{"schema": {"type": "int"}}', HEADERS,
     422, 422, "'schema' must be a string"),
    ("empty_body", "POST", "/subjects/{s}/versions", b"", HEADERS, 422, 422, "empty"),
    ("schema_not_json", "POST", "/subjects/{s}/versions", json.dumps({"schema": "hello"}).encode(), HEADERS,
     422, 42201, "Invalid schema"),
    ("schema_not_avro", "POST", "/subjects/{s}/versions",
     json.dumps({"schema": '{"type": "object", "properties": {}}'}).encode(), HEADERS, 422, 42201, "object"),
    ("schema_bad_default", "POST", "/subjects/{s}/versions",
     json.dumps({"schema": rec([{"name": "a", "type": "int", "default": "x"}])}).encode(), HEADERS,
     422, 42201, "Invalid default for field a"),
    ("empty_schema", "POST", "/subjects/{s}/versions", json.dumps({"schema": ""}).encode(), HEADERS,
     422, 42201, "Empty schema"),
    ("protobuf_schema_bad_syntax", "POST", "/subjects/{s}/versions",
     json.dumps({"schema": "syntax = \"proto3\"; message {", "schemaType": "PROTOBUF"}).encode(), HEADERS,
     422, 42201, "Expected message name"),
    ("explicit_id_outside_import_mode", "POST", "/subjects/{s}/versions",
     json.dumps({"schema": GOOD, "id": 12345}).encode(), HEADERS, 422, 42205, "not in import mode"),
    ("unsupported_content_type", "POST", "/subjects/{s}/versions", json.dumps({"schema": GOOD}).encode(),
     {"Content-Type": "text/plain"}, 415, 415, "Unsupported Media Type"),
    ("unknown_path", "GET", "/no/such/path", None, {}, 404, 404, "HTTP 404 Not Found"),
    ("wrong_method", "PATCH", "/subjects", None, {}, 405, 405, "HTTP 405 Method Not Allowed"),
    ("non_numeric_schema_id", "GET", "/schemas/ids/abc", None, {}, 404, 404, "HTTP 404 Not Found"),
    ("unknown_schema_id", "GET", "/schemas/ids/987654321", None, {}, 404, 40403, "Schema 987654321 not found"),
    ("unknown_subject", "GET", "/subjects/{s}/versions", None, {}, 404, 40401, "Subject '{s}' not found."),
    ("unknown_subject_lookup", "POST", "/subjects/{s}", json.dumps({"schema": GOOD}).encode(), HEADERS,
     404, 40401, "not found"),
    ("invalid_version", "GET", "/subjects/{s}/versions/first", None, {}, 422, 42202,
     "The specified version 'first' is not a valid version id"),
    ("version_zero", "GET", "/subjects/{s}/versions/0", None, {}, 422, 42202, "not a valid version id"),
    ("invalid_level", "PUT", "/config", b'{"compatibility": "MOSTLY"}', HEADERS, 422, 42203,
     "Invalid compatibility level"),
    ("missing_level", "PUT", "/config/{s}", b"{}", HEADERS, 422, 42203, "Invalid compatibility level"),
    ("not_acceptable", "GET", "/subjects", None, {"Accept": "text/html"}, 406, 406, "Not Acceptable"),
    # issue 16: a client's mistake, not the server's (these answered 500 or dropped the connection)
    ("schema_nested_3000_deep", "POST", "/subjects/{s}/versions",
     json.dumps({"schema": '{"type":"array","items":' * 3000 + '"int"' + "}" * 3000}).encode(), HEADERS,
     422, 42201, "nested too deeply"),
    ("body_nested_100000_deep", "POST", "/subjects/{s}/versions", b"[" * 100_000 + b"]" * 100_000, HEADERS,
     400, 400, "nested too deeply"),
    ("lone_surrogate_echoed", "POST", "/subjects/{s}/versions", b'{"schema": "\\ud800"}', HEADERS,
     422, 42201, "not valid Unicode"),
    ("nan_default", "POST", "/subjects/{s}/versions",
     b'{"schema": "{\\"type\\":\\"record\\",\\"name\\":\\"R\\",\\"fields\\":[{\\"name\\":\\"a\\",'
     b'\\"type\\":\\"double\\",\\"default\\":NaN}]}"}', HEADERS, 422, 42201, "NaN is not a JSON value"),
    ("nan_in_body", "POST", "/subjects/{s}/versions", b'{"schema": "\\"int\\"", "x": NaN}', HEADERS,
     400, 400, "NaN is not a JSON value"),
    # cp-schema-registry 8.1 answers 200 {"is_compatible": true} for "latest" (and for all
    # versions) of an unknown subject, but 40402 for a numbered version of one
    ("compatibility_unknown_subject_numbered_version", "POST", "/compatibility/subjects/{s}/versions/3",
     json.dumps({"schema": GOOD}).encode(), HEADERS, 404, 40402, "Version 3 not found."),
    ("compatibility_unknown_subject_invalid_schema", "POST", "/compatibility/subjects/{s}/versions/latest",
     json.dumps({"schema": '{"type": "record"}'}).encode(), HEADERS, 422, 42201, "Invalid schema"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_request_gets_its_4xx(http: httpx.Client, subject: str, case: tuple) -> None:
    _, method, path, body, headers, status, code, fragment = case
    resp = http.request(method, path.format(s=subject), content=body, headers=headers)
    assert resp.status_code == status, resp.text
    payload = resp.json()
    assert payload["error_code"] == code
    assert fragment.format(s=subject) in payload["message"]
    _still_serving(http, subject)


def test_oversize_body_is_413(http: httpx.Client, subject: str) -> None:
    huge = json.dumps({"schema": rec([{"name": "a", "type": "string", "doc": "x" * (3 * 1024 * 1024)}])})
    resp = http.post(f"/subjects/{subject}/versions", content=huge, headers=HEADERS)
    assert resp.status_code == 413 and resp.json()["error_code"] == 413
    assert "larger than the limit" in resp.json()["message"]
    _still_serving(http, subject)


def test_oversize_body_without_content_length_is_413(http: httpx.Client, subject: str) -> None:
    def chunks():
        yield b'{"schema": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    resp = http.post(f"/subjects/{subject}/versions", content=chunks(), headers=HEADERS)
    assert resp.status_code == 413
    _still_serving(http, subject)


def test_garbage_on_the_socket_does_not_kill_the_server(schema_registry_url: str, http: httpx.Client,
                                                        subject: str) -> None:
    url = urlparse(schema_registry_url)
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(b"\x16\x03\x01 this is not http\r\n\r\n")
        try:
            sock.recv(1024)
        except OSError:
            pass
    _still_serving(http, subject)


def _still_serving(http: httpx.Client, subject: str) -> None:
    assert http.get("/").status_code == 200
    ok = http.post(f"/subjects/{subject}-ok/versions", json={"schema": GOOD}, headers=HEADERS)
    assert ok.status_code == 200 and isinstance(ok.json()["id"], int)


def test_schema_larger_than_a_kafka_record_is_42209(http: httpx.Client, subject: str) -> None:
    # Under the 2 MiB body limit, over the producer's 1 MB message limit.
    big = rec([{"name": "a", "type": "string", "doc": "x" * 1_200_000}])
    resp = http.post(f"/subjects/{subject}/versions", json={"schema": big}, headers=HEADERS)
    assert resp.status_code == 422 and resp.json()["error_code"] == 42209, resp.text
    assert "too large" in resp.json()["message"]
    assert http.get(f"/subjects/{subject}/versions").status_code == 404   # nothing registered
    _still_serving(http, subject)


def test_compatibility_with_an_unknown_subject_is_vacuously_true_as_in_the_real_registry(
        http: httpx.Client, subject: str) -> None:
    """cp-schema-registry 8.1 (`CompatibilityResource`): with no version to compare against,
    the answer is compatible; the schema itself is still validated (see BAD above)."""
    for path in (f"/compatibility/subjects/{subject}/versions/latest", f"/compatibility/subjects/{subject}/versions"):
        resp = http.post(path, json={"schema": GOOD}, headers=HEADERS)
        assert resp.status_code == 200 and resp.json() == {"is_compatible": True}, resp.text
    assert http.get(f"/subjects/{subject}/versions").status_code == 404  # a check registers nothing
