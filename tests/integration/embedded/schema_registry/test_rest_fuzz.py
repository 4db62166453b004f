"""Property-based fuzzing of the schema registry's REST API (issue 16): random and mutated
requests — paths, methods, query parameters, headers, bodies of every type, size, depth
and encoding — never get a 5xx or a dropped connection, and good requests are answered
all along and afterwards. Loopback only; bounded by FUZZ_EXAMPLES requests (default 600).
A private registry on a private `_schemas` topic, so nothing here touches other tests."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fraudstream.embedded.schema_registry.launcher import start_registry, stop_registry
from tests.support.http_fuzz import Checker, Request, bodies, headers, is_loopback, query_params, routes
from tests.support.reporting import report

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "600"))
SR_JSON = "application/vnd.schemaregistry.v1+json"
ACCEPTS = (SR_JSON, "application/vnd.schemaregistry+json", "application/json", "*/*", "")
CONTENT_TYPES = (SR_JSON, "application/vnd.schemaregistry+json", "application/json", "application/octet-stream")
GOOD_SCHEMA = json.dumps({"type": "record", "name": "Fuzz", "namespace": "t",
                          "fields": [{"name": "id", "type": "string"}, {"name": "n", "type": ["null", "long"],
                                                                          "default": None}]})
ROUTES = [("GET", "/"), ("GET", "/schemas/types"), ("GET", "/schemas/ids/{id}"), ("GET", "/schemas/ids/{id}/schema"),
          ("GET", "/schemas/ids/{id}/subjects"), ("GET", "/schemas/ids/{id}/versions"), ("GET", "/subjects"),
          ("GET", "/subjects/{subject}/versions"), ("POST", "/subjects/{subject}/versions"),
          ("POST", "/subjects/{subject}/versions"), ("GET", "/subjects/{subject}/versions/{version}"),
          ("DELETE", "/subjects/{subject}/versions/{version}"),
          ("GET", "/subjects/{subject}/versions/{version}/schema"),
          ("GET", "/subjects/{subject}/versions/{version}/referencedby"), ("POST", "/subjects/{subject}"),
          ("DELETE", "/subjects/{subject}"), ("GET", "/config"), ("PUT", "/config"), ("GET", "/config/{subject}"),
          ("PUT", "/config/{subject}"), ("DELETE", "/config/{subject}"), ("GET", "/mode"), ("GET", "/mode/{subject}"),
          ("POST", "/compatibility/subjects/{subject}/versions"),
          ("POST", "/compatibility/subjects/{subject}/versions/{version}")]
GOOD_BODIES = [
    {"schema": GOOD_SCHEMA},
    {"schema": GOOD_SCHEMA, "schemaType": "AVRO", "references": []},
    {"schema": '"string"'},
    {"schema": json.dumps({"type": "enum", "name": "E", "symbols": ["A", "B"], "default": "A"})},
    {"compatibility": "BACKWARD"},
    {"compatibilityLevel": "FULL_TRANSITIVE"},
]


@pytest.fixture(scope="module")
def registry(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_file = tmp_path_factory.mktemp("fuzz-registry") / "registry.log"
    url, proc = start_registry(kafka_bootstrap, topic=f"_schemas_fuzz_{uuid.uuid4().hex[:8]}", log_file=log_file)
    if not is_loopback(url):  # pragma: no cover - start_registry binds 127.0.0.1
        pytest.skip(f"fuzzing only over loopback, the registry is at {url}")
    try:
        yield url
    finally:
        stop_registry(proc)


@pytest.fixture(scope="module")
def checker(registry: str, request: pytest.FixtureRequest) -> Iterator[Checker]:
    c = Checker(registry)
    yield c
    c.close()
    report(request.config, c.summary("schema registry fuzz"))


def _still_serving(c: Checker) -> None:
    subject = f"fuzz-good-{uuid.uuid4().hex[:6]}"
    ok = c.h1.post(f"/subjects/{subject}/versions", json={"schema": GOOD_SCHEMA}, headers={"Content-Type": SR_JSON})
    assert ok.status_code == 200 and isinstance(ok.json()["id"], int), ok.text
    got = c.h1.get(f"/subjects/{subject}/versions/latest")
    assert got.status_code == 200 and got.json()["subject"] == subject


@st.composite
def requests(draw) -> Request:
    method, path = draw(routes(ROUTES))
    return Request(method, path, draw(query_params()), draw(headers(ACCEPTS, CONTENT_TYPES)),
                   draw(bodies(GOOD_BODIES)) if method not in ("GET", "HEAD") or draw(st.integers(0, 9)) == 0
                   else None)


@settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(req=requests())
def test_no_request_gets_a_5xx_or_a_dropped_connection(checker: Checker, req: Request) -> None:
    checker.send(req)
    if checker.sent % 50 == 0:
        _still_serving(checker)


def test_good_requests_are_answered_after_the_fuzz(checker: Checker, registry: str) -> None:
    assert checker.sent >= EXAMPLES // 2, "the fuzz did not run"
    _still_serving(checker)
    assert httpx.get(registry + "/subjects", timeout=10).status_code == 200
