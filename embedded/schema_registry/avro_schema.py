"""Parse Avro schema text into a resolved tree and print it the way the real registry stores it.

Why hand-written: the registry must (1) reject what Apache Avro's Java parser rejects, with a
message naming the problem, (2) store and compare schemas in the *Java* canonical string
form — `org.apache.avro.Schema.toString()`, which is what Confluent's registry writes to
`_schemas` and hashes to find an identical schema — and (3) hand the compatibility checker
a tree whose named-type references point at their definitions (recursion included).
fastavro parses and validates Avro, but its canonical output is the *Parsing Canonical
Form* (docs, defaults, aliases and custom properties stripped), which would make schemas
that differ in a default look identical, and it keeps references as bare name strings.
fastavro is still used as a second validating pass over every schema we accept.

Java's printing rules reproduced here: keys in the order `type, name, namespace, doc,
fields|symbols|size|items|values, [enum default], custom properties, aliases`; fields as
`name, type, doc, default, order (unless ascending), aliases, properties`; a primitive
without properties is a bare string; a named type seen before is written as a name
reference, qualified only when its namespace differs from the enclosing one; compact JSON.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from fraudstream.embedded.schema_registry import jsontext
from fraudstream.embedded.schema_registry.errors import InvalidSchemaError

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "error", "enum", "fixed"})
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Keys with a meaning in the Avro spec; everything else on a schema or field is a custom
# property and is kept (Java keeps them too, e.g. "connect.name", "logicalType").
_SCHEMA_RESERVED = frozenset(
    {"doc", "fields", "items", "name", "namespace", "size", "symbols", "values", "type", "aliases", "default"}
)
_FIELD_RESERVED = frozenset({"default", "doc", "name", "order", "type", "aliases"})
_ORDERS = ("ascending", "descending", "ignore")

NO_DEFAULT = object()


@dataclass(eq=False)
class Field:
    name: str
    schema: "Node"
    doc: str | None = None
    default: Any = NO_DEFAULT
    order: str = "ascending"
    aliases: list[str] = field(default_factory=list)
    props: dict[str, Any] = field(default_factory=dict)

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT


@dataclass(eq=False)
class Node:
    """One Avro schema. Named types are shared objects: a reference *is* the definition."""

    type: str
    name: str | None = None          # simple name of a named type
    namespace: str | None = None
    doc: str | None = None
    aliases: list[str] = field(default_factory=list)   # full names
    fields: list[Field] = field(default_factory=list)
    symbols: list[str] = field(default_factory=list)
    enum_default: str | None = None
    size: int | None = None
    items: "Node | None" = None
    values: "Node | None" = None
    branches: list["Node"] = field(default_factory=list)
    props: dict[str, Any] = field(default_factory=dict)

    @property
    def fullname(self) -> str | None:
        if self.name is None:
            return None
        return f"{self.namespace}.{self.name}" if self.namespace else self.name

    @property
    def is_named(self) -> bool:
        return self.type in NAMED

    def describe(self) -> str:
        """Short human form for messages: the full name of a named type, else its type."""
        return self.fullname or self.type


@dataclass(frozen=True)
class AvroSchema:
    """A validated schema: its canonical text (what is stored) and its resolved tree."""

    canonical: str
    root: Node
    equality_key: str   # canonical form without docs and aliases: Avro's Schema.equals

    @property
    def schema_type(self) -> str:
        return "AVRO"


def parse(text: str) -> AvroSchema:
    """Parse schema text; raise InvalidSchemaError (42201) with Avro's reason if it is not Avro."""
    if not isinstance(text, str):
        raise InvalidSchemaError("Invalid schema: the schema must be a JSON string containing an Avro schema")
    if not text.strip():
        raise InvalidSchemaError("Empty schema")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: cannot be stored as UTF-8 text
        raise InvalidSchemaError(f"Invalid schema {_clip(text)}, details: not valid Unicode: {exc.reason} "
                                 f"at position {exc.start}") from None
    try:
        raw = jsontext.loads(text)
    except ValueError as exc:
        raise InvalidSchemaError(f"Invalid schema {_clip(text)}, details: not valid JSON: {exc}") from None
    try:
        root = _Parser().parse(raw, None)
        canonical = _Printer(with_docs=True).write(root)
        key = _Printer(with_docs=False).write(root)
        _fastavro_check(canonical)
    except _AvroError as exc:
        raise InvalidSchemaError(f"Invalid schema {_clip(text)}, details: {exc}") from None
    except RecursionError:
        raise InvalidSchemaError(f"Invalid schema {_clip(text)}, details: schema nested too deeply") from None
    return AvroSchema(canonical=canonical, root=root, equality_key=key)


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


class _AvroError(Exception):
    pass


def _fastavro_check(canonical: str) -> None:
    """Second opinion from fastavro; anything it rejects is not accepted either."""
    import fastavro

    try:
        fastavro.parse_schema(json.loads(canonical))
    except Exception as exc:  # fastavro raises several types (SchemaParseException, ValueError, ...)
        raise _AvroError(f"fastavro: {exc}") from None


# ---- parsing ---------------------------------------------------------------------------

def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name:
        raise _AvroError(f"No name in {what}" if not name else f"Name is not a string in {what}: {name!r}")
    for part in name.split("."):
        if not _NAME_RE.match(part):
            raise _AvroError(f"Illegal name in {what}: {name!r} (each part must match [A-Za-z_][A-Za-z0-9_]*)")
    return name


def _split(name: str, space: str | None) -> tuple[str, str | None]:
    """Full-name resolution of the Avro spec: a dotted name carries its own namespace."""
    if "." in name:
        ns, _, simple = name.rpartition(".")
        return simple, ns or None
    return name, space or None


def _props(obj: dict[str, Any], reserved: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in reserved}


class _Parser:
    def __init__(self) -> None:
        self.names: dict[str, Node] = {}

    def _lookup(self, ref: str, space: str | None) -> Node | None:
        if "." in ref:
            return self.names.get(ref)
        if space:
            found = self.names.get(f"{space}.{ref}")
            if found is not None:
                return found
        return self.names.get(ref)

    def parse(self, js: Any, space: str | None) -> Node:
        if isinstance(js, str):
            if js in PRIMITIVES:
                return Node(js)
            found = self._lookup(js, space)
            if found is None:
                raise _AvroError(f'Undefined name: "{js}"')
            return found
        if isinstance(js, list):
            return self._union(js, space)
        if isinstance(js, dict):
            return self._object(js, space)
        raise _AvroError(f"Not a schema: {json.dumps(js)}")

    def _union(self, js: list[Any], space: str | None) -> Node:
        branches = [self.parse(b, space) for b in js]
        seen: set[str] = set()
        for b in branches:
            if b.type == "union":
                raise _AvroError(f"Nested union: {json.dumps(js)}")
            key = b.fullname if b.is_named else b.type
            if key in seen:
                raise _AvroError(f"Duplicate in union:{key}")
            seen.add(key)
        return Node("union", branches=branches)

    def _object(self, js: dict[str, Any], space: str | None) -> Node:
        if "type" not in js:
            raise _AvroError(f"No type: {json.dumps(js)}")
        t = js["type"]
        if isinstance(t, (dict, list)):
            raise _AvroError(f"Type not supported: {json.dumps(t)} (a type attribute must be a name)")
        if not isinstance(t, str):
            raise _AvroError(f"No type: {json.dumps(js)}")
        if t in PRIMITIVES:
            return Node(t, props=_props(js, _SCHEMA_RESERVED))
        if t in NAMED:
            return self._named(t, js, space)
        if t == "array":
            if "items" not in js:
                raise _AvroError(f"Array has no items type: {json.dumps(js)}")
            return Node("array", items=self.parse(js["items"], space), props=_props(js, _SCHEMA_RESERVED))
        if t == "map":
            if "values" not in js:
                raise _AvroError(f"Map has no values type: {json.dumps(js)}")
            return Node("map", values=self.parse(js["values"], space), props=_props(js, _SCHEMA_RESERVED))
        found = self._lookup(t, space)
        if found is not None:
            return found
        raise _AvroError(f"Type not supported: {t}")

    def _aliases(self, js: dict[str, Any], space: str | None, what: str) -> list[str]:
        aliases = js.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise _AvroError(f"aliases not an array of strings in {what}")
        out = []
        for a in aliases:
            _check_name(a, f"alias of {what}")
            simple, ns = _split(a, space)
            out.append(f"{ns}.{simple}" if ns else simple)
        return out

    def _named(self, t: str, js: dict[str, Any], space: str | None) -> Node:
        raw_name = _check_name(js.get("name"), f"schema: {json.dumps(js)[:120]}")
        ns_attr = js.get("namespace")
        if ns_attr is not None and not isinstance(ns_attr, str):
            raise _AvroError(f"namespace is not a string in {raw_name}")
        if ns_attr:
            for part in ns_attr.split("."):
                if not _NAME_RE.match(part):
                    raise _AvroError(f"Illegal namespace: {ns_attr!r}")
        simple, ns = _split(raw_name, ns_attr if ns_attr is not None else space)
        doc = js.get("doc")
        if doc is not None and not isinstance(doc, str):
            raise _AvroError(f"doc is not a string in {raw_name}")
        node = Node(t, name=simple, namespace=ns, doc=doc)
        full = node.fullname
        assert full is not None
        if full in self.names or simple in PRIMITIVES:
            raise _AvroError(f"Can't redefine: {full}")
        self.names[full] = node
        node.aliases = self._aliases(js, ns, full)
        node.props = _props(js, _SCHEMA_RESERVED)
        if t in ("record", "error"):
            fields = js.get("fields")
            if not isinstance(fields, list):
                raise _AvroError(f"Record has no fields: {full}")
            seen: set[str] = set()
            for f in fields:
                fld = self._field(f, ns, full)
                if fld.name in seen:
                    raise _AvroError(f"Duplicate field {fld.name} in record {full}")
                seen.add(fld.name)
                node.fields.append(fld)
        elif t == "enum":
            symbols = js.get("symbols")
            if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
                raise _AvroError(f"Enum has no symbols: {full}")
            if len(set(symbols)) != len(symbols):
                dup = next(s for s in symbols if symbols.count(s) > 1)
                raise _AvroError(f"Duplicate enum symbol: {dup}")
            for s in symbols:
                if not _NAME_RE.match(s):
                    raise _AvroError(f"Illegal enum symbol: {s!r} in {full}")
            node.symbols = list(symbols)
            if "default" in js:
                default = js["default"]
                if not isinstance(default, str) or default not in symbols:
                    raise _AvroError(
                        f"The Enum Default: {default} is not in the enum symbol set: {symbols}"
                    )
                node.enum_default = default
        else:  # fixed
            size = js.get("size")
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise _AvroError(f"Invalid or no size: {json.dumps(js)[:120]}")
            node.size = size
        return node

    def _field(self, f: Any, space: str | None, record: str) -> Field:
        if not isinstance(f, dict):
            raise _AvroError(f"Field is not an object in record {record}: {json.dumps(f)[:80]}")
        name = f.get("name")
        if not isinstance(name, str) or not _NAME_RE.match(name or ""):
            raise _AvroError(f"Illegal or missing field name in record {record}: {name!r}")
        if "type" not in f:
            raise _AvroError(f"No field type: {name} in record {record}")
        schema = self.parse(f["type"], space)
        doc = f.get("doc")
        if doc is not None and not isinstance(doc, str):
            raise _AvroError(f"doc is not a string in field {name} of {record}")
        order = f.get("order", "ascending")
        if order not in _ORDERS:
            raise _AvroError(f"Illegal order {order!r} for field {name} of {record}")
        aliases = f.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise _AvroError(f"aliases not an array of strings in field {name} of {record}")
        fld = Field(name=name, schema=schema, doc=doc, order=order, aliases=list(aliases),
                    props=_props(f, _FIELD_RESERVED))
        if "default" in f:
            fld.default = f["default"]
            problem = _default_problem(schema, fld.default)
            if problem:
                raise _AvroError(f"Invalid default for field {name}: {json.dumps(fld.default)} {problem}")
        return fld


def _default_problem(schema: Node, value: Any) -> str | None:
    """Why `value` is not a valid default for `schema` (Avro spec: unions use the first branch)."""
    t = schema.type
    if t == "null":
        return None if value is None else 'not a "null"'
    if t == "boolean":
        return None if isinstance(value, bool) else 'not a "boolean"'
    if t in ("int", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return f'not a "{t}"'
        bits = 31 if t == "int" else 63
        return None if -(2**bits) <= value < 2**bits else f'out of range for "{t}"'
    if t in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f'not a "{t}"'
        return None
    if t in ("bytes", "string", "fixed"):
        return None if isinstance(value, str) else f'not a "{schema.describe()}"'
    if t == "enum":
        return None if isinstance(value, str) and value in schema.symbols else f'not a symbol of {schema.describe()}'
    if t == "array":
        if not isinstance(value, list):
            return 'not an "array"'
        for item in value:
            assert schema.items is not None
            p = _default_problem(schema.items, item)
            if p:
                return p
        return None
    if t == "map":
        if not isinstance(value, dict):
            return 'not a "map"'
        for item in value.values():
            assert schema.values is not None
            p = _default_problem(schema.values, item)
            if p:
                return p
        return None
    if t == "union":
        return _default_problem(schema.branches[0], value) if schema.branches else "empty union"
    if t in ("record", "error"):
        if not isinstance(value, dict):
            return f'not a "{schema.describe()}"'
        for fld in schema.fields:
            if fld.name in value:
                p = _default_problem(fld.schema, value[fld.name])
                if p:
                    return p
            elif not fld.has_default:
                return f"missing field {fld.name} of {schema.describe()}"
        return None
    return None


# ---- printing (Java Schema.toString()) -----------------------------------------------

def _dumps(value: Any) -> str:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return json.dumps(str(value))
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _qualified(node: Node, space: str | None) -> str:
    full = node.fullname or ""
    if node.namespace is not None and node.namespace == space:
        # A simple name that collides with a type name must stay qualified.
        return full if node.name in PRIMITIVES or node.name in NAMED or node.name in ("array", "map") else (node.name or "")
    return full


class _Printer:
    def __init__(self, *, with_docs: bool) -> None:
        self.with_docs = with_docs
        self.written: set[int] = set()
        self.space: str | None = None

    def write(self, node: Node) -> str:
        return self._node(node)

    def _props(self, props: dict[str, Any]) -> list[str]:
        return [f"{_dumps(k)}:{_dumps(v)}" for k, v in props.items()]

    def _name(self, node: Node) -> list[str]:
        parts = [f'"name":{_dumps(node.name)}']
        if node.namespace is not None:
            if node.namespace != self.space:
                parts.append(f'"namespace":{_dumps(node.namespace)}')
        elif self.space is not None:
            parts.append('"namespace":""')
        return parts

    def _aliases(self, node: Node) -> list[str]:
        if not node.aliases or not self.with_docs:
            return []
        out = []
        for a in node.aliases:
            ns, _, simple = a.rpartition(".")
            out.append(simple if (ns or None) == node.namespace and ns else a)
        return [f'"aliases":[{",".join(_dumps(a) for a in out)}]']

    def _node(self, node: Node) -> str:
        t = node.type
        if t in PRIMITIVES:
            if not node.props:
                return _dumps(t)
            return "{" + ",".join([f'"type":{_dumps(t)}', *self._props(node.props)]) + "}"
        if t == "union":
            return "[" + ",".join(self._node(b) for b in node.branches) + "]"
        if t == "array":
            assert node.items is not None
            return "{" + ",".join(['"type":"array"', f'"items":{self._node(node.items)}', *self._props(node.props)]) + "}"
        if t == "map":
            assert node.values is not None
            return "{" + ",".join(['"type":"map"', f'"values":{self._node(node.values)}', *self._props(node.props)]) + "}"
        # named
        if id(node) in self.written:
            return _dumps(_qualified(node, self.space))
        self.written.add(id(node))
        saved = self.space
        parts = [f'"type":{_dumps(t)}', *self._name(node)]
        if t in ("record", "error"):
            self.space = node.namespace
        if node.doc is not None and self.with_docs:
            parts.append(f'"doc":{_dumps(node.doc)}')
        if t in ("record", "error"):
            parts.append('"fields":[' + ",".join(self._field(f) for f in node.fields) + "]")
        elif t == "enum":
            parts.append('"symbols":[' + ",".join(_dumps(s) for s in node.symbols) + "]")
            if node.enum_default is not None:
                parts.append(f'"default":{_dumps(node.enum_default)}')
        else:
            parts.append(f'"size":{node.size}')
        parts.extend(self._props(node.props))
        parts.extend(self._aliases(node))
        self.space = saved
        return "{" + ",".join(parts) + "}"

    def _field(self, f: Field) -> str:
        parts = [f'"name":{_dumps(f.name)}', f'"type":{self._node(f.schema)}']
        if f.doc is not None and self.with_docs:
            parts.append(f'"doc":{_dumps(f.doc)}')
        if f.has_default:
            parts.append(f'"default":{_dumps(f.default)}')
        if f.order != "ascending":
            parts.append(f'"order":{_dumps(f.order)}')
        if f.aliases and self.with_docs:
            parts.append('"aliases":[' + ",".join(_dumps(a) for a in f.aliases) + "]")
        parts.extend(self._props(f.props))
        return "{" + ",".join(parts) + "}"
