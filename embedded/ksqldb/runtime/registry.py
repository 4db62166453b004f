"""`SchemaRegistry` over the Confluent Schema Registry REST API (httpx).

Why not confluent-kafka's SchemaRegistryClient here: it caches "latest version" answers,
while ksqlDB's schema inference must see a subject's newest schema at statement time;
the engine needs five plain calls, and a 40401 must mean "absent" exactly as ksqlDB reads it.
A registry that does not answer raises `SchemaRegistryUnavailable` (see errors.py), never
an answer the engine would take for "absent" or "invalid".
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from fraudstream.core import client_properties
from fraudstream.embedded.ksqldb.errors import KsqlError, SchemaRegistryUnavailable
from fraudstream.embedded.ksqldb.interfaces import RegisteredSchema

ACCEPT = "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json"


class HttpSchemaRegistry:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        # credentials and TLS as every other registry client of the project takes them:
        # basic.auth.user.info and schema.registry.ssl.* of the client properties file
        props = client_properties.load().schema_registry
        auth = None
        if props.get("basic.auth.user.info"):
            user, _, password = props["basic.auth.user.info"].partition(":")
            auth = (user, password)
        cert = None
        if props.get("ssl.certificate.location"):
            cert = tuple(v for v in (props["ssl.certificate.location"], props.get("ssl.key.location"),
                                     props.get("ssl.key.password")) if v)
        self.url = client_properties.redact_url(url.rstrip("/"))  # as shown in messages
        self.http = httpx.Client(base_url=url.rstrip("/"), timeout=timeout, headers={"Accept": ACCEPT},
                                 auth=auth, verify=props.get("ssl.ca.location") or True, cert=cert)
        self._by_id: dict[int, RegisteredSchema] = {}

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        """One request; SchemaRegistryUnavailable when the registry does not answer or
        answers 5xx (a restart in progress): the caller decides whether to wait."""
        try:
            resp = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise SchemaRegistryUnavailable(f"Schema Registry at {self.url} is not reachable: {exc}") from None
        if resp.status_code >= 500:
            raise SchemaRegistryUnavailable(f"Schema Registry at {self.url} answered HTTP {resp.status_code}: "
                                            f"{resp.text[:200]}")
        return resp

    @staticmethod
    def _fail(resp: httpx.Response, what: str) -> KsqlError:
        try:
            body = resp.json()
            detail = f"{body.get('message')} (error code {body.get('error_code')})"
        except ValueError:
            detail = resp.text[:200]
        return KsqlError(f"Schema Registry refused to {what}: {detail}")

    def register(self, subject: str, schema: str, schema_type: str = "AVRO") -> int:
        resp = self._call("POST", f"/subjects/{quote(subject, safe='')}/versions",
                          json={"schema": schema, "schemaType": schema_type},
                          headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
        if resp.status_code != 200:
            raise self._fail(resp, f"register a schema under subject '{subject}'")
        return int(resp.json()["id"])

    def get_latest(self, subject: str) -> RegisteredSchema | None:
        resp = self._call("GET", f"/subjects/{quote(subject, safe='')}/versions/latest")
        if resp.status_code == 404 and resp.json().get("error_code") in (40401, 40402):
            return None
        if resp.status_code != 200:
            raise self._fail(resp, f"return the latest schema of subject '{subject}'")
        body = resp.json()
        return RegisteredSchema(int(body["id"]), body["subject"], int(body["version"]), body["schema"],
                                body.get("schemaType") or "AVRO", tuple(body.get("references") or ()))

    def get_version(self, subject: str, version: int) -> RegisteredSchema | None:
        """A referenced schema (PROTOBUF imports name a subject and version)."""
        resp = self._call("GET", f"/subjects/{quote(subject, safe='')}/versions/{int(version)}")
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self._fail(resp, f"return version {version} of subject '{subject}'")
        body = resp.json()
        return RegisteredSchema(int(body["id"]), body["subject"], int(body["version"]), body["schema"],
                                body.get("schemaType") or "AVRO", tuple(body.get("references") or ()))

    def get_by_id(self, schema_id: int) -> RegisteredSchema | None:
        if schema_id in self._by_id:  # ids are immutable
            return self._by_id[schema_id]
        resp = self._call("GET", f"/schemas/ids/{schema_id}")
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self._fail(resp, f"return schema id {schema_id}")
        body = resp.json()
        found = RegisteredSchema(schema_id, "", 0, body["schema"], body.get("schemaType") or "AVRO",
                                 tuple(body.get("references") or ()))
        self._by_id[schema_id] = found
        return found

    def subjects_by_id(self, schema_id: int) -> list[str]:
        """GET /schemas/ids/{id}/subjects: the subjects with a version of this id."""
        resp = self._call("GET", f"/schemas/ids/{schema_id}/subjects")
        if resp.status_code == 404:
            return []
        if resp.status_code != 200:
            raise self._fail(resp, f"list the subjects of schema id {schema_id}")
        return list(resp.json())

    def delete_subject(self, subject: str) -> None:
        for permanent in ("false", "true"):
            resp = self._call("DELETE", f"/subjects/{quote(subject, safe='')}", params={"permanent": permanent})
            if resp.status_code not in (200, 404):
                raise self._fail(resp, f"delete subject '{subject}'")

    def subjects(self) -> list[str]:
        resp = self._call("GET", "/subjects")
        if resp.status_code != 200:
            raise self._fail(resp, "list subjects")
        return list(resp.json())
