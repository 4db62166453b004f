"""Value semantics the engine shares with the JVM, as tables: Java's Double.toString,
int/long wrap-around, BigDecimal rounding and precision, Java's string forms of SQL values."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from fraudstream.embedded.ksqldb.catalog.sqltypes import BOOLEAN, DOUBLE, INTEGER, SqlArray, SqlDecimal, SqlStruct
from fraudstream.embedded.ksqldb.expr.values import (
    decimal_str,
    hashable,
    java_double_str,
    to_decimal,
    to_java_string,
    wrap32,
    wrap64,
)

# Double.toString: plain between 10^-3 and 10^7, scientific outside, shortest round-trip digits
DOUBLES = [
    (1e7, "1.0E7"), (1e6, "1000000.0"), (0.1 + 0.2, "0.30000000000000004"), (100.0, "100.0"),
    (1e-4, "1.0E-4"), (0.001, "0.001"), (-0.0, "-0.0"), (math.nan, "NaN"), (math.inf, "Infinity"),
    (-math.inf, "-Infinity"), (123456789.123, "1.23456789123E8"),
]


@pytest.mark.parametrize("x, text", DOUBLES, ids=[t for _, t in DOUBLES])
def test_doubles_print_as_java_prints_them(x: float, text: str) -> None:
    assert java_double_str(x) == text


@pytest.mark.parametrize("fn, x, wrapped", [
    (wrap32, 2**31, -2**31), (wrap32, -2**31 - 1, 2**31 - 1), (wrap32, 5, 5),
    (wrap64, 2**63, -2**63), (wrap64, -2**63 - 1, 2**63 - 1),
])
def test_integer_overflow_wraps_around_as_on_the_jvm(fn, x: int, wrapped: int) -> None:
    assert fn(x) == wrapped


def test_decimals_round_half_up_to_their_scale_and_refuse_overflow() -> None:
    assert to_decimal(Decimal("1.005"), SqlDecimal(4, 2)) == Decimal("1.01")
    assert str(to_decimal(2, SqlDecimal(4, 2))) == "2.00"
    with pytest.raises(ArithmeticError, match="precision 3 and scale 1 must round to an absolute value less than 10"):
        to_decimal(Decimal("123.4"), SqlDecimal(3, 1))
    assert decimal_str(Decimal("1.50")) == "1.50"


@pytest.mark.parametrize("value, t, text", [
    (1.0, DOUBLE, "1.0"), (True, BOOLEAN, "true"), (7, INTEGER, "7"),
    ([1, 2], SqlArray(INTEGER), "[1, 2]"), ({"A": 1}, SqlStruct((("A", INTEGER),)), "Struct{A=1}"),
])
def test_java_string_forms(value, t, text: str) -> None:
    assert to_java_string(value, t) == text


def test_nested_values_become_hashable_keys() -> None:
    key = hashable({"a": [1, {"b": 2}]})
    assert key == (("a", (1, (("b", 2),))),)
    assert {key: 1}[hashable({"a": [1, {"b": 2}]})] == 1
