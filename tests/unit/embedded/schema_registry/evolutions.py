"""Schema evolutions with the answers Avro's resolution rules give, shared by unit and HTTP tests.

Each case: the old schema, the new schema, `backward` (can the new schema read data
written with the old one?) and `forward` (can the old read the new?), plus sample data
for each side that exercises the difference, so that the expected answers are checked
against fastavro's read-time schema resolution too, not just asserted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


def rec(fields: list[dict[str, Any]], name: str = "Txn", **extra: Any) -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "fraudstream.test", "fields": fields, **extra})


@dataclass(frozen=True)
class Evolution:
    id: str
    old: str
    new: str
    backward: bool
    forward: bool
    old_data: list[Any] = field(default_factory=list)
    new_data: list[Any] = field(default_factory=list)


F_ID = {"name": "id", "type": "string"}
ADDRESS = {"type": "record", "name": "Address", "fields": [{"name": "city", "type": "string"}]}
ADDRESS_PLUS_DEFAULT = {"type": "record", "name": "Address",
                        "fields": [{"name": "city", "type": "string"}, {"name": "zip", "type": "string", "default": ""}]}
ADDRESS_PLUS = {"type": "record", "name": "Address",
                "fields": [{"name": "city", "type": "string"}, {"name": "zip", "type": "string"}]}
NODE = {"type": "record", "name": "Node", "fields": [{"name": "value", "type": "int"},
                                                     {"name": "next", "type": ["null", "Node"], "default": None}]}
NODE_PLUS = {"type": "record", "name": "Node", "fields": [{"name": "value", "type": "int"},
                                                          {"name": "next", "type": ["null", "Node"], "default": None},
                                                          {"name": "w", "type": "double", "default": 0.0}]}

EVOLUTIONS: list[Evolution] = [
    Evolution("add_field_with_default",
              rec([F_ID]), rec([F_ID, {"name": "amount", "type": "double", "default": 0.0}]), True, True,
              [{"id": "a"}], [{"id": "a", "amount": 1.5}]),
    Evolution("add_field_without_default",
              rec([F_ID]), rec([F_ID, {"name": "amount", "type": "double"}]), False, True,
              [{"id": "a"}], [{"id": "a", "amount": 1.5}]),
    Evolution("remove_field_without_default",
              rec([F_ID, {"name": "amount", "type": "double"}]), rec([F_ID]), True, False,
              [{"id": "a", "amount": 1.0}], [{"id": "a"}]),
    Evolution("remove_field_with_default",
              rec([F_ID, {"name": "amount", "type": "double", "default": 0.0}]), rec([F_ID]), True, True,
              [{"id": "a", "amount": 1.0}], [{"id": "a"}]),
    Evolution("promote_int_to_long",
              rec([{"name": "n", "type": "int"}]), rec([{"name": "n", "type": "long"}]), True, False,
              [{"n": 1}], [{"n": 2**40}]),
    Evolution("narrow_long_to_int",
              rec([{"name": "n", "type": "long"}]), rec([{"name": "n", "type": "int"}]), False, True,
              [{"n": 2**40}], [{"n": 1}]),
    Evolution("promote_float_to_double",
              rec([{"name": "x", "type": "float"}]), rec([{"name": "x", "type": "double"}]), True, False,
              [{"x": 1.5}], [{"x": 1.5}]),
    Evolution("promote_int_to_float",
              rec([{"name": "x", "type": "int"}]), rec([{"name": "x", "type": "float"}]), True, False,
              [{"x": 3}], [{"x": 1.5}]),
    Evolution("string_to_bytes",
              rec([{"name": "s", "type": "string"}]), rec([{"name": "s", "type": "bytes"}]), True, True,
              [{"s": "abc"}], [{"s": b"abc"}]),
    Evolution("int_to_string",
              rec([{"name": "v", "type": "int"}]), rec([{"name": "v", "type": "string"}]), False, False,
              [{"v": 1}], [{"v": "1"}]),
    Evolution("enum_add_symbol",
              rec([{"name": "c", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN"]}}]),
              rec([{"name": "c", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN", "BLUE"]}}]),
              True, False, [{"c": "GREEN"}], [{"c": "BLUE"}]),
    Evolution("enum_remove_symbol",
              rec([{"name": "c", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN", "BLUE"]}}]),
              rec([{"name": "c", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN"]}}]),
              False, True, [{"c": "BLUE"}], [{"c": "RED"}]),
    Evolution("enum_add_symbol_old_has_default",
              rec([{"name": "c", "type": {"type": "enum", "name": "Color", "symbols": ["UNKNOWN", "RED"],
                                          "default": "UNKNOWN"}}]),
              rec([{"name": "c", "type": {"type": "enum", "name": "Color", "symbols": ["UNKNOWN", "RED", "BLUE"],
                                          "default": "UNKNOWN"}}]),
              True, True, [{"c": "RED"}], [{"c": "BLUE"}]),
    Evolution("union_add_branch",
              rec([{"name": "v", "type": ["null", "string"], "default": None}]),
              rec([{"name": "v", "type": ["null", "string", "int"], "default": None}]),
              True, False, [{"v": "x"}, {"v": None}], [{"v": 3}]),
    Evolution("make_field_nullable",
              rec([{"name": "v", "type": "string"}]),
              rec([{"name": "v", "type": ["null", "string"], "default": None}]),
              True, False, [{"v": "x"}], [{"v": None}]),
    Evolution("union_to_single_type",
              rec([{"name": "v", "type": ["null", "string"], "default": None}]),
              rec([{"name": "v", "type": "string", "default": ""}]),
              False, True, [{"v": None}], [{"v": "x"}]),
    Evolution("rename_record",
              rec([F_ID]), rec([F_ID], name="Payment"), False, False,
              [{"id": "a"}], [{"id": "a"}]),
    Evolution("rename_record_with_alias",
              rec([F_ID]), rec([F_ID], name="Payment", aliases=["fraudstream.test.Txn"]), True, False,
              [{"id": "a"}], [{"id": "a"}]),
    Evolution("rename_field_with_alias",
              rec([F_ID, {"name": "amount", "type": "double"}]),
              rec([F_ID, {"name": "total", "type": "double", "aliases": ["amount"]}]), True, False,
              [{"id": "a", "amount": 1.0}], [{"id": "a", "total": 1.0}]),
    Evolution("nested_record_add_field_without_default",
              rec([F_ID, {"name": "home", "type": ADDRESS}]),
              rec([F_ID, {"name": "home", "type": ADDRESS_PLUS}]), False, True,
              [{"id": "a", "home": {"city": "Oslo"}}], [{"id": "a", "home": {"city": "Oslo", "zip": "0150"}}]),
    Evolution("named_type_reference_evolves",
              rec([{"name": "home", "type": ADDRESS}, {"name": "work", "type": "Address"}]),
              rec([{"name": "home", "type": ADDRESS_PLUS_DEFAULT}, {"name": "work", "type": "Address"}]), True, True,
              [{"home": {"city": "A"}, "work": {"city": "B"}}],
              [{"home": {"city": "A", "zip": "1"}, "work": {"city": "B", "zip": "2"}}]),
    Evolution("named_type_reference_breaks",
              rec([{"name": "home", "type": ADDRESS}, {"name": "work", "type": "Address"}]),
              rec([{"name": "home", "type": ADDRESS_PLUS}, {"name": "work", "type": "Address"}]), False, True,
              [{"home": {"city": "A"}, "work": {"city": "B"}}],
              [{"home": {"city": "A", "zip": "1"}, "work": {"city": "B", "zip": "2"}}]),
    Evolution("array_items_int_to_long",
              rec([{"name": "xs", "type": {"type": "array", "items": "int"}}]),
              rec([{"name": "xs", "type": {"type": "array", "items": "long"}}]), True, False,
              [{"xs": [1, 2]}], [{"xs": [2**40]}]),
    Evolution("map_values_long_to_int",
              rec([{"name": "m", "type": {"type": "map", "values": "long"}}]),
              rec([{"name": "m", "type": {"type": "map", "values": "int"}}]), False, True,
              [{"m": {"a": 2**40}}], [{"m": {"a": 1}}]),
    Evolution("fixed_size_change",
              rec([{"name": "h", "type": {"type": "fixed", "name": "Hash", "size": 4}}]),
              rec([{"name": "h", "type": {"type": "fixed", "name": "Hash", "size": 8}}]), False, False,
              [{"h": b"abcd"}], [{"h": b"abcdefgh"}]),
    Evolution("recursive_type_add_field_with_default",
              rec([{"name": "head", "type": NODE}]), rec([{"name": "head", "type": NODE_PLUS}]), True, True,
              [{"head": {"value": 1, "next": {"value": 2, "next": None}}}],
              [{"head": {"value": 1, "next": {"value": 2, "next": None, "w": 1.0}, "w": 0.5}}]),
    Evolution("doc_only_change",
              rec([F_ID]), rec([dict(F_ID, doc="the transaction id")], doc="a payment"), True, True,
              [{"id": "a"}], [{"id": "a"}]),
]
