"""Schema compatibility by Avro's schema-resolution rules, as the real registry decides it.

Why hand-written: no Python library implements Avro *schema compatibility* (Java's
`org.apache.avro.SchemaCompatibility`, which Confluent's `AvroCompatibilityChecker` calls).
fastavro can resolve a writer's *data* against a reader schema, but only record by record
at read time; it has no schema-against-schema check and reports nothing per path.

Rules (Avro specification, "Schema Resolution"), reader R reading data written with W:
- same primitive type: fine; promotions int→long/float/double, long→float/double,
  float→double, string→bytes and bytes→string;
- records: names match (simple name, or W's full name among R's aliases); every R field
  either exists in W (by name or one of R's field aliases) with a compatible type, or has
  a default; W fields absent from R are ignored;
- enums: names match; every W symbol is in R unless R declares an enum default;
- fixed: names and sizes match; arrays / maps: items / values compatible;
- W a union: every W branch must be readable by R; R a union (W not): some branch of R
  reads W;
- recursive named types are assumed compatible while being compared (as Java does).

Levels: BACKWARD = the new schema reads data of the previous one; FORWARD = the previous
reads the new; FULL = both; *_TRANSITIVE = against every live version instead of only the
latest; NONE = no check.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from fraudstream.embedded.schema_registry.avro_schema import AvroSchema, Node

_PROMOTIONS: dict[str, frozenset[str]] = {
    # reader type -> writer types it can read besides its own
    "long": frozenset({"int"}),
    "float": frozenset({"int", "long"}),
    "double": frozenset({"int", "long", "float"}),
    "bytes": frozenset({"string"}),
    "string": frozenset({"bytes"}),
}


class CompatibilityLevel(str, Enum):
    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @classmethod
    def parse(cls, value: object) -> "CompatibilityLevel | None":
        """Case-insensitive lookup; None when `value` names no level."""
        if not isinstance(value, str):
            return None
        try:
            return cls(value.strip().upper())
        except ValueError:
            return None

    @property
    def transitive(self) -> bool:
        return self.value.endswith("_TRANSITIVE")

    @property
    def backward(self) -> bool:
        return self.value.startswith(("BACKWARD", "FULL"))

    @property
    def forward(self) -> bool:
        return self.value.startswith(("FORWARD", "FULL"))


DEFAULT_LEVEL = CompatibilityLevel.BACKWARD


@dataclass(frozen=True)
class Incompatibility:
    """One reason R cannot read W, named like Avro's SchemaIncompatibilityType."""

    kind: str       # NAME_MISMATCH, FIXED_SIZE_MISMATCH, MISSING_ENUM_SYMBOLS,
                    # READER_FIELD_MISSING_DEFAULT_VALUE, TYPE_MISMATCH, MISSING_UNION_BRANCH
    path: str       # JSON-pointer-like location in the reader schema, e.g. /fields/1/type
    message: str

    def __str__(self) -> str:
        return f"{{errorType:'{self.kind}', description:'{self.message}', path:'{self.path}'}}"


def can_read(reader: Node, writer: Node) -> list[Incompatibility]:
    """Everything that stops `reader` from reading data written with `writer` (empty: fine)."""
    return _Checker().check(reader, writer, "")


class _Checker:
    def __init__(self) -> None:
        self.in_progress: set[tuple[int, int]] = set()

    def check(self, r: Node, w: Node, path: str) -> list[Incompatibility]:
        key = (id(r), id(w))
        if key in self.in_progress:
            return []  # recursion: assume compatible until proven otherwise elsewhere
        if r.is_named or w.is_named:
            self.in_progress.add(key)
        try:
            return self._check(r, w, path)
        finally:
            self.in_progress.discard(key)

    def _check(self, r: Node, w: Node, path: str) -> list[Incompatibility]:
        if r.type == w.type or {r.type, w.type} == {"record", "error"}:
            t = r.type
            if t in ("null", "boolean", "int", "long", "float", "double", "bytes", "string"):
                return []
            if t == "array":
                assert r.items is not None and w.items is not None
                return self.check(r.items, w.items, f"{path}/items")
            if t == "map":
                assert r.values is not None and w.values is not None
                return self.check(r.values, w.values, f"{path}/values")
            if t == "fixed":
                out = self._names(r, w, path)
                if r.size != w.size:
                    out.append(Incompatibility(
                        "FIXED_SIZE_MISMATCH", f"{path}/size",
                        f"The size of FIXED type field at path '{path or '/'}' in the reader schema "
                        f"({r.size}) does not match the writer schema ({w.size})"))
                return out
            if t == "enum":
                out = self._names(r, w, path)
                missing = [s for s in w.symbols if s not in r.symbols]
                if missing and r.enum_default is None:
                    out.append(Incompatibility(
                        "MISSING_ENUM_SYMBOLS", f"{path}/symbols",
                        f"The reader schema is missing enum symbols '{sorted(missing)}' at path "
                        f"'{path or '/'}' in the writer schema"))
                return out
            if t in ("record", "error"):
                return self._records(r, w, path)
            if t == "union":
                out: list[Incompatibility] = []
                for i, branch in enumerate(w.branches):
                    out.extend(self._reader_union(r, branch, path, i))
                return out
            return []
        if w.type == "union":
            out = []
            for i, branch in enumerate(w.branches):
                out.extend(self.check(r, branch, path))
            return out
        if r.type == "union":
            return self._reader_union(r, w, path, None)
        if w.type in _PROMOTIONS.get(r.type, frozenset()):
            return []
        return [Incompatibility(
            "TYPE_MISMATCH", path or "/",
            f"The type (path '{path or '/'}') of a field in the new schema does not match with the old "
            f"schema: reader type {r.type.upper()} is not compatible with writer type {w.type.upper()}")]

    def _reader_union(self, r: Node, w: Node, path: str, writer_branch: int | None) -> list[Incompatibility]:
        if r.type != "union":
            return self.check(r, w, path)
        for b in r.branches:
            if not self.check(b, w, path):
                return []
        where = f" (writer union branch {writer_branch})" if writer_branch is not None else ""
        return [Incompatibility(
            "MISSING_UNION_BRANCH", path or "/",
            f"The new schema is missing a type inside a union field at path '{path or '/'}': "
            f"reader union lacking writer type: {w.describe().upper() if not w.is_named else w.describe()}{where}")]

    def _names(self, r: Node, w: Node, path: str) -> list[Incompatibility]:
        if r.name == w.name or (w.fullname in r.aliases):
            return []
        return [Incompatibility(
            "NAME_MISMATCH", f"{path}/name",
            f"The type name at path '{path or '/'}' in the new schema does not match the old schema: "
            f"expected: {w.fullname}, found: {r.fullname}")]

    def _records(self, r: Node, w: Node, path: str) -> list[Incompatibility]:
        out = self._names(r, w, path)
        by_name = {f.name: f for f in w.fields}
        for i, rf in enumerate(r.fields):
            wf = by_name.get(rf.name)
            if wf is None:
                wf = next((by_name[a] for a in rf.aliases if a in by_name), None)
            fpath = f"{path}/fields/{i}"
            if wf is None:
                if not rf.has_default:
                    out.append(Incompatibility(
                        "READER_FIELD_MISSING_DEFAULT_VALUE", fpath,
                        f"The field '{rf.name}' at path '{fpath}' in the new schema has no default value "
                        f"and is missing in the old schema"))
            else:
                out.extend(self.check(rf.schema, wf.schema, f"{fpath}/type"))
        return out


def check(level: CompatibilityLevel, new: AvroSchema, previous: list[tuple[int, AvroSchema]]) -> list[str]:
    """Messages explaining why `new` may not follow `previous` [(version, schema), oldest first].

    An empty list means compatible. Non-transitive levels compare with the latest only.
    """
    if level is CompatibilityLevel.NONE or not previous:
        return []
    targets = previous if level.transitive else previous[-1:]
    messages: list[str] = []
    for version, old in reversed(targets):
        problems: list[Incompatibility] = []
        if level.backward:
            problems.extend(can_read(new.root, old.root))
        if level.forward:
            problems.extend(can_read(old.root, new.root))
        if problems:
            messages.extend(str(p) for p in problems)
            messages.append(f"{{oldSchemaVersion: {version}}}")
            messages.append(f"{{oldSchema: '{old.canonical}'}}")
            messages.append(f"{{compatibility: '{level.value}'}}")
    return messages
