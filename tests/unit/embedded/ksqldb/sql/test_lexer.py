"""The lexer, as a table: KSQL text in, tokens out (ksqlDB's `SqlBase.g4` lexer rules).

Unquoted words are upper-cased, back-quoted and double-quoted identifiers keep their
case, `''` inside a string is one quote, numbers are INTEGER / DECIMAL / FLOAT as ANTLR
reads them, comments are skipped, and every token knows its line (1-based) and column
(0-based) for ksqlDB's `line L:C` messages.
"""

from __future__ import annotations

import pytest

from fraudstream.embedded.ksqldb.errors import KsqlParseError
from fraudstream.embedded.ksqldb.sql.lexer import RESERVED, quote_identifier, tokenize

TOKENS = [
    ("select Amount from tx", [("IDENT", "SELECT"), ("IDENT", "AMOUNT"), ("IDENT", "FROM"), ("IDENT", "TX")]),
    ("`User` \"q\"", [("QIDENT", "User"), ("QIDENT", "q")]),
    ("'it''s'", [("STRING", "it's")]),
    ("1 1.5 1e3 1.5E-2 .5", [("INTEGER", "1"), ("DECIMAL", "1.5"), ("FLOAT", "1e3"), ("FLOAT", "1.5E-2"),
                             ("DECIMAL", ".5")]),
    ("a<>b != c <= d >= e || f := g -> h => i",
     [("IDENT", "A"), ("OP", "<>"), ("IDENT", "B"), ("OP", "<>"), ("IDENT", "C"), ("OP", "<="), ("IDENT", "D"),
      ("OP", ">="), ("IDENT", "E"), ("OP", "||"), ("IDENT", "F"), ("OP", ":="), ("IDENT", "G"), ("OP", "->"),
      ("IDENT", "H"), ("OP", "=>"), ("IDENT", "I")]),
    ("${var} 3abc", [("VARIABLE", "var"), ("DIGIT_IDENT", "3ABC")]),
    ("a -- to the end of the line\n/* block\ncomment */ b", [("IDENT", "A"), ("IDENT", "B")]),
]


@pytest.mark.parametrize("text, expected", TOKENS, ids=[t for t, _ in TOKENS])
def test_tokens(text: str, expected: list[tuple[str, str]]) -> None:
    tokens = tokenize(text)  # `!=` is read as `<>`, its synonym
    assert tokens[-1].kind == "EOF"
    assert [(t.kind, t.value) for t in tokens[:-1]] == expected


def test_positions_are_line_and_column_as_antlr_counts_them() -> None:
    tokens = tokenize("select a,\n  b from t;")
    assert [(t.value, t.line, t.col) for t in tokens[:-1]] == [
        ("SELECT", 1, 0), ("A", 1, 7), (",", 1, 8), ("B", 2, 2), ("FROM", 2, 4), ("T", 2, 9), (";", 2, 10)]


def test_an_unterminated_string_is_a_syntax_error_with_its_position() -> None:
    with pytest.raises(KsqlParseError, match=r"line 1:8: Syntax Error\nUnterminated string literal"):
        tokenize("select 'abc")


@pytest.mark.parametrize("name, written", [
    ("AMOUNT", "AMOUNT"),        # plain upper-case: as is
    ("User", "`User`"),          # mixed case: quoted
    ("SELECT", "`SELECT`"),      # reserved word: quoted
    ("TIMESTAMP", "TIMESTAMP"),  # non-reserved keyword: as is
    ("A B", "`A B`"),
    ("a`b", "`a``b`"),           # a back-quote inside is doubled
])
def test_identifiers_are_quoted_only_when_ksqldb_would(name: str, written: str) -> None:
    assert quote_identifier(name) == written


def test_reserved_words_exclude_the_non_reserved_keywords() -> None:
    assert {"SELECT", "FROM", "WHERE", "CREATE"} <= RESERVED
    assert not {"TIMESTAMP", "KEY", "STRING", "SOURCE"} & RESERVED
