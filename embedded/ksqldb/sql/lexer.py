"""Tokenizer for KSQL, following the lexer rules of ksqlDB's `SqlBase.g4`.

Keywords are matched case-insensitively; unquoted identifiers are upper-cased, back-
quoted and double-quoted identifiers keep their case. Every token records its line
(1-based) and column (0-based, like ANTLR) so errors can say `line L:C` as ksqlDB does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fraudstream.embedded.ksqldb.errors import KsqlParseError

KEYWORDS = frozenset(
    """
    EMIT CHANGES FINAL SELECT FROM AS ALL DISTINCT WHERE WITHIN WINDOW GROUP BY HAVING LIMIT
    AT OR AND IN NOT EXISTS BETWEEN LIKE ESCAPE IS NULL TRUE FALSE INTEGER DATE TIME
    TIMESTAMP INTERVAL YEAR MONTH DAY HOUR MINUTE SECOND MILLISECOND YEARS MONTHS DAYS
    HOURS MINUTES SECONDS MILLISECONDS ZONE TUMBLING HOPPING SIZE ADVANCE RETENTION GRACE
    PERIOD CASE WHEN THEN ELSE END JOIN FULL OUTER INNER LEFT RIGHT ON PARTITION STRUCT
    WITH VALUES CREATE TABLE TOPIC STREAM STREAMS INSERT DELETE INTO DESCRIBE EXTENDED
    PRINT EXPLAIN ANALYZE TYPE TYPES CAST SHOW LIST TABLES TOPICS QUERY QUERIES TERMINATE
    LOAD COLUMNS COLUMN PARTITIONS FUNCTIONS FUNCTION DROP TO RENAME ARRAY MAP SET DEFINE
    UNDEFINE RESET SESSION SAMPLE EXPORT CATALOG PROPERTIES BEGINNING UNSET RUN SCRIPT
    DECIMAL KEY CONNECTOR CONNECTORS SINK SOURCE NAMESPACE MATERIALIZED VIEW PRIMARY
    REPLACE ASSERT ADD ALTER VARIABLES PLUGINS HEADERS HEADER SYSTEM TIMEOUT SCHEMA
    SUBJECT ID IF STRING
    """.split()
)

NON_RESERVED = frozenset(
    """
    SHOW TABLES COLUMNS COLUMN PARTITIONS FUNCTIONS FUNCTION SESSION STRUCT MAP ARRAY
    PARTITION INTEGER DATE TIME TIMESTAMP INTERVAL ZONE STRING YEAR MONTH DAY HOUR MINUTE
    SECOND EXPLAIN ANALYZE TYPE TYPES SET RESET IF SOURCE SINK PRIMARY KEY EMIT CHANGES
    FINAL ESCAPE REPLACE ASSERT ALTER ADD HEADER HEADERS GRACE PERIOD DEFINE UNDEFINE
    VARIABLES PLUGINS SYSTEM TIMEOUT SCHEMA SUBJECT ID
    """.split()
)

RESERVED = KEYWORDS - NON_RESERVED
_PLAIN_IDENTIFIER = re.compile(r"[A-Z_][A-Z0-9_@]*\Z")


def quote_identifier(name: str) -> str:
    """Back-quote a name only when ksqlDB's formatter would (not plain upper-case, or a
    reserved word)."""
    if _PLAIN_IDENTIFIER.match(name) and name not in RESERVED:
        return name
    return "`" + name.replace("`", "``") + "`"


_SYMBOLS = (
    "<>", "!=", "<=", ">=", "||", ":=", "->", "=>",
    "=", "<", ">", "+", "-", "*", "/", "%", "(", ")", ",", ";", ".", "[", "]",
)


@dataclass(slots=True)
class Token:
    kind: str  # IDENT QIDENT DIGIT_IDENT STRING INTEGER DECIMAL FLOAT VARIABLE OP EOF
    text: str  # the source text of the token
    value: str  # upper-cased word, unquoted identifier, unescaped string, number text
    pos: int
    line: int
    col: int  # 0-based, like ANTLR's charPositionInLine
    end: int = 0

    def is_kw(self, *words: str) -> bool:
        return self.kind == "IDENT" and self.value in words

    def is_op(self, *ops: str) -> bool:
        return self.kind == "OP" and self.value in ops

    def display(self) -> str:
        return "<EOF>" if self.kind == "EOF" else self.text


def _is_letter(ch: str) -> bool:
    return ("A" <= ch <= "Z") or ("a" <= ch <= "z")


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def tokenize(text: str) -> list[Token]:
    """Split `text` into tokens; comments and whitespace are dropped."""
    tokens: list[Token] = []
    i = 0
    n = len(text)
    line = 1
    line_start = 0

    def err(msg: str, at: int) -> KsqlParseError:
        col = at - line_start
        return KsqlParseError(
            f"line {line}:{col + 1}: Syntax Error\n{msg}", text, line, col + 1
        )

    while i < n:
        ch = text[i]
        if ch == "\n":
            i += 1
            line += 1
            line_start = i
            continue
        if ch in " \t\r":
            i += 1
            continue
        if ch == "-" and text.startswith("--", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if ch == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise err("Unterminated comment", i)
            for k in range(i, j):
                if text[k] == "\n":
                    line += 1
                    line_start = k + 1
            i = j + 2
            continue
        start = i
        col = i - line_start
        if ch == "'":
            j = i + 1
            parts = []
            while True:
                k = text.find("'", j)
                if k < 0:
                    raise err("Unterminated string literal", i)
                parts.append(text[j:k])
                if k + 1 < n and text[k + 1] == "'":
                    parts.append("'")
                    j = k + 2
                    continue
                j = k + 1
                break
            raw = text[i:j]
            tokens.append(Token("STRING", raw, "".join(parts), start, line, col, j))
            line += raw.count("\n")
            if "\n" in raw:
                line_start = start + raw.rfind("\n") + 1
            i = j
            continue
        if ch in "`\"":
            j = i + 1
            parts = []
            while True:
                k = text.find(ch, j)
                if k < 0:
                    raise err("Unterminated quoted identifier", i)
                parts.append(text[j:k])
                if k + 1 < n and text[k + 1] == ch:
                    parts.append(ch)
                    j = k + 2
                    continue
                j = k + 1
                break
            tokens.append(Token("QIDENT", text[i:j], "".join(parts), start, line, col, j))
            i = j
            continue
        if ch == "$" and text.startswith("${", i):
            j = text.find("}", i)
            if j < 0:
                raise err("Unterminated variable reference", i)
            tokens.append(Token("VARIABLE", text[i : j + 1], text[i + 2 : j], start, line, col, j + 1))
            i = j + 1
            continue
        if _is_digit(ch) or (ch == "." and i + 1 < n and _is_digit(text[i + 1])):
            tok = _number(text, i, line, col)
            tokens.append(tok)
            i = tok.end
            continue
        if _is_letter(ch) or ch == "_":
            j = i + 1
            while j < n and (_is_letter(text[j]) or _is_digit(text[j]) or text[j] in "_@"):
                j += 1
            word = text[i:j]
            tokens.append(Token("IDENT", word, word.upper(), start, line, col, j))
            i = j
            continue
        for sym in _SYMBOLS:
            if text.startswith(sym, i):
                value = "<>" if sym == "!=" else sym
                tokens.append(Token("OP", sym, value, start, line, col, i + len(sym)))
                i += len(sym)
                break
        else:
            raise err(f"Syntax error at or near '{ch}' at line {line}:{col + 1}", i)
    tokens.append(Token("EOF", "", "", n, line, n - line_start, n))
    return tokens


def _number(text: str, i: int, line: int, col: int) -> Token:
    """Longest match among INTEGER/DECIMAL/FLOAT/DIGIT_IDENTIFIER, as ANTLR does."""
    n = len(text)
    j = i
    while j < n and _is_digit(text[j]):
        j += 1
    kind = "INTEGER"
    end = j
    if j < n and text[j] == "." and (j > i or (j + 1 < n and _is_digit(text[j + 1]))):
        k = j + 1
        while k < n and _is_digit(text[k]):
            k += 1
        kind, end = "DECIMAL", k
    # exponent
    if end < n and text[end] in "eE":
        k = end + 1
        if k < n and text[k] in "+-":
            k += 1
        if k < n and _is_digit(text[k]):
            while k < n and _is_digit(text[k]):
                k += 1
            kind, end = "FLOAT", k
    # a digit identifier wins when it is strictly longer (e.g. `1R`, `1_col`)
    if text[i] != ".":
        k = i
        while k < n and (_is_letter(text[k]) or _is_digit(text[k]) or text[k] in "_@"):
            k += 1
        if k > end and any(not _is_digit(c) for c in text[i:k]):
            word = text[i:k]
            return Token("DIGIT_IDENT", word, word.upper(), i, line, col, k)
    word = text[i:end]
    return Token(kind, word, word, i, line, col, end)
