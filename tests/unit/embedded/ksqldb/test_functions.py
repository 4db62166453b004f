"""Scalar functions and value semantics against ksqlDB's documented behaviour."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from fraudstream.embedded.ksqldb.errors import EvaluationError
from fraudstream.embedded.ksqldb.expr.functions import FunctionArgumentError, default_registry
from fraudstream.embedded.ksqldb.expr.functions import java_time
from fraudstream.embedded.ksqldb.expr.functions.mask import (
    mask,
    mask_keep_left,
    mask_keep_right,
    mask_left,
    mask_right,
)
from fraudstream.embedded.ksqldb.expr.runtime_ops import array_index, idiv32, imod, like, make_cast
from fraudstream.embedded.ksqldb.catalog.sqltypes import (
    BIGINT,
    DOUBLE,
    INTEGER,
    STRING,
    SqlArray,
    SqlDecimal,
    SqlMap,
    SqlStruct,
)
from fraudstream.embedded.ksqldb.expr.values import java_double_str, to_decimal, to_java_string, wrap32

REG = default_registry()
DOC = "My Test $123"


def call(name, *args, types=None):
    types = types or [_type_of(a) for a in args]
    resolved = REG.get(name).resolve(types)
    if resolved.null_propagating and any(a is None for a in args):
        return None
    conv = resolved.converters or [None] * len(args)
    return resolved.impl(*[a if c is None or a is None else c(a) for a, c in zip(args, conv)])


def _type_of(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return INTEGER
    if isinstance(v, float):
        return DOUBLE
    if isinstance(v, Decimal):
        return SqlDecimal(10, 2)
    if isinstance(v, str):
        return STRING
    return None


# ---------------------------------------------------------------- MASK family


def test_mask_family_documentation_examples():
    assert mask(DOC) == "Xx-Xxxx--nnn"
    assert mask(DOC, "*", None, "1", None) == "*y *est $111"
    assert mask_keep_left(DOC, 4) == "My Txxx--nnn"
    assert mask_keep_right(DOC, 4) == "Xx-Xxxx-$123"
    assert mask_left(DOC, 4) == "Xx-Xest $123"
    assert mask_right(DOC, 4) == "My Test -nnn"


def test_mask_unicode_categories_and_clamping():
    assert mask("Ünïcode 42") == "Xxxxxxx-nn"
    assert mask("ΣΩ١٢") == "XXnn"  # Greek capitals, Arabic-Indic digits (Nd)
    assert mask_left("ab", 10) == "xx"
    assert mask_right("ab", 10) == "xx"
    assert mask_keep_left("ab", 10) == "ab"
    assert mask_left("", 3) == ""


def test_mask_null_input_and_errors():
    assert mask_left(None, 2) is None
    assert mask(None) is None
    with pytest.raises(EvaluationError, match="non-negative"):
        mask_left("abc", -1)
    with pytest.raises(EvaluationError, match="single character"):
        mask("abc", "XX", None, None, None)


def test_mask_left_resolution_and_bad_types():
    assert call("MASK_LEFT", "Kai", 2) == "Xxi"
    with pytest.raises(FunctionArgumentError, match=r"Function 'MASK_LEFT' does not accept parameters \(STRING, STRING\)"):
        REG.get("MASK_LEFT").resolve([STRING, STRING])


# ---------------------------------------------------------------- strings


@pytest.mark.parametrize(
    "args, expected",
    [(("some_string", 6), "string"), (("short", 6), ""), (("some_string", 6, 3), "str"),
     (("abc", -2), "bc"), (("abc", 0), "abc"), (("abc", 2, -1), "")],
)
def test_substring(args, expected):
    assert call("SUBSTRING", *args) == expected


def test_string_functions():
    assert call("UCASE", "MiXeD") == "MIXED"
    assert call("LCASE", "MiXeD") == "mixed"
    assert call("TRIM", " \t with white space \t") == "with white space"
    assert call("LEN", "ABC") == 3
    assert call("CONCAT", "a", None, "b", types=[STRING, None, STRING]) == "ab"
    assert call("CONCAT_WS", "-", "a", None, "b", types=[STRING, STRING, None, STRING]) == "a-b"
    assert call("CONCAT_WS", None, "a", types=[STRING, STRING]) is None


def test_like_patterns():
    assert like("barfoobaz", "%foo%")
    assert like("foo", "f_o")
    assert not like("x", "!%", "!")
    assert like("%", "!%", "!")
    with pytest.raises(EvaluationError):  # ksqlDB's LikeEvaluator fails on a NULL value
        like(None, "%")
    assert not like("a\nb", "a_b")  # no DOTALL in java.util.regex


# ---------------------------------------------------------------- numbers


def test_round_is_half_up_towards_positive_like_math_round():
    assert call("ROUND", 1.5) == 2
    assert call("ROUND", -1.5) == -1
    assert call("ROUND", -1.5, 0) == -1.0
    assert call("ROUND", 12345.678, -2) == 12300.0
    assert call("ROUND", 1.234567, 2) == 1.23


def test_round_decimal_type():
    r = REG.get("ROUND").resolve([SqlDecimal(33, 16)])
    assert r.return_type == SqlDecimal(17, 0)
    assert r.impl(Decimal("12345678987654321.2345678987654321")) == Decimal("12345678987654321")


def test_math_java_semantics():
    assert math.isnan(call("SQRT", -1.0))
    assert call("LN", 0.0) == -math.inf
    assert call("LOG", 13.0) == pytest.approx(2.5649493574615367)
    assert call("LOG", 15.0, 13.0) == pytest.approx(0.9471572411831843)
    assert math.isnan(call("LOG", 1.0, 13.0))
    assert call("ABS", -2147483648) == -2147483648  # Java Math.abs overflow
    assert call("SIGN", -3.0) == -1
    assert call("CBRT", -8) == -2.0


def test_integer_arithmetic_wraps_and_truncates():
    assert wrap32(2**31) == -(2**31)
    assert idiv32(-7, 2) == -3
    assert imod(-7, 2) == -1
    with pytest.raises(EvaluationError):
        idiv32(1, 0)


def test_java_double_formatting():
    assert java_double_str(10.3) == "10.3"
    assert java_double_str(1.0) == "1.0"
    assert java_double_str(1e7) == "1.0E7"
    assert java_double_str(1.5e-5) == "1.5E-5"
    assert java_double_str(float("nan")) == "NaN"
    assert java_double_str(-0.0) == "-0.0"


def test_decimal_scale_and_overflow():
    assert str(to_decimal(Decimal(".12"), SqlDecimal(33, 16))) == "0.1200000000000000"
    assert str(to_decimal(0.99, SqlDecimal(2, 1))) == "1.0"
    with pytest.raises(ArithmeticError):
        to_decimal(10, SqlDecimal(2, 1))


# ---------------------------------------------------------------- casts


def test_casts_follow_ksqldb():
    assert make_cast(SqlArray(BIGINT), SqlArray(INTEGER))([1, 2147483648]) == [1, -2147483648]
    assert make_cast(SqlArray(INTEGER), STRING)([1, 3]) == "[1, 3]"
    assert make_cast(SqlMap(STRING, INTEGER), STRING)({"this": 1}) == "{this=1}"
    assert make_cast(SqlStruct((("F0", INTEGER), ("f1", INTEGER))), STRING)({"F0": 1, "f1": 3}) == "Struct{F0=1,f1=3}"
    assert make_cast(DOUBLE, INTEGER)(1.2) == 1
    assert make_cast(STRING, SqlDecimal(2, 1))("0.99") == Decimal("1.0")
    assert make_cast(INTEGER, SqlDecimal(2, 1))(10) is None  # does not fit: NULL
    assert make_cast(STRING, BIGINT)(" 10 ") == 10
    assert to_java_string(True, None) == "true"


def test_array_index_is_one_based():
    assert array_index([1, 2, 3], 1) == 1
    assert array_index([1, 2, 3], -1) == 3
    assert array_index([1, 2, 3], 4) is None
    assert array_index(None, 1) is None


# ---------------------------------------------------------------- date/time


def test_timestamp_string_round_trip_with_java_patterns():
    ms = java_time.parse_to_millis("2018-12-18 12:01:00.250", "yyyy-MM-dd HH:mm:ss.SSS")
    assert ms == 1545134460250
    assert java_time.format_millis(ms, "yyyy-MM-dd'T'HH:mm:ss.SSS") == "2018-12-18T12:01:00.250"
    assert java_time.format_millis(0, "dd MMM yyyy hh:mm a", "UTC") == "01 Jan 1970 12:00 AM"


def test_parse_date_and_iso_casts():
    assert java_time.parse_to_days("2003-12-24", "yyyy-MM-dd") == 12410
    assert java_time.parse_iso_timestamp("2022-04-28T21:44:47.943Z") == 1651182287943
    assert call("TIMESTAMPTOSTRING", 0, "yyyy", types=[BIGINT, STRING]) == "1970"


def test_coalesce_ifnull_nullif():
    assert call("IFNULL", None, "x", types=[STRING, STRING]) == "x"
    assert call("COALESCE", None, None, 3, types=[INTEGER, INTEGER, INTEGER]) == 3
    assert call("NULLIF", 10, 10) is None
    with pytest.raises(FunctionArgumentError, match=r"Function 'COALESCE' does not accept parameters \(\)"):
        REG.get("COALESCE").resolve([])


def test_extract_json_field():
    doc = '{"customer": {"first_name": "Jill", "ids": [1, 2]}, "amount": 5}'
    assert call("EXTRACTJSONFIELD", doc, "$.customer.first_name") == "Jill"
    assert call("EXTRACTJSONFIELD", doc, "$.customer.ids[1]") == "2"
    assert call("EXTRACTJSONFIELD", doc, "$.amount") == "5"
    assert call("EXTRACTJSONFIELD", doc, "$.missing") is None
