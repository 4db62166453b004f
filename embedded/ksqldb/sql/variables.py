"""Variable substitution (`DEFINE name = 'value'`, `${name}`), as ksqlDB's
VariableSubstitutor and the REST layer's session variables apply it.

ksqlDB parses a request, then, statement by statement, replaces each `${name}` that
stands where an identifier or a literal may stand, and each `${name}` inside a string
literal (SET/UNSET arguments, DEFINE values, resource names included), with the
variable's value, and parses the statement again. Values are sanitized as
ParserUtil.sanitize does: a value used as a literal or inside a string has its single
quotes doubled (a value that is itself a quoted string keeps its outer quotes); a value
used as an identifier is put in as it is. Names are case-insensitive (SessionProperties
keeps them in a case-insensitive map). A DEFINE takes effect for the statements after it
in the same request; UNDEFINE removes the variable. A variable that is not defined is
left as written, so the parser reports it. `ksql.variable.substitution.enable=false`
turns substitution off.

Here the substitution is done on the request's text before it is parsed, token by
token, so line numbers and the positions of everything before a substituted token stay
those of the request.
"""

from __future__ import annotations

import re

from fraudstream.embedded.ksqldb.sql.lexer import Token, tokenize

ENABLE_KEY = "ksql.variable.substitution.enable"
_IN_STRING = re.compile(r"\$\{([^}]*)\}")


class Variables:
    """A case-insensitive name -> value map that remembers the names as defined."""

    def __init__(self, initial: dict[str, str] | None = None) -> None:
        self._values: dict[str, tuple[str, str]] = {}
        for k, v in (initial or {}).items():
            self.define(k, str(v))

    def define(self, name: str, value: str) -> None:
        self._values[name.upper()] = (name, value)

    def undefine(self, name: str) -> bool:
        return self._values.pop(name.upper(), None) is not None

    def get(self, name: str) -> str | None:
        found = self._values.get(name.upper())
        return None if found is None else found[1]

    def items(self) -> list[tuple[str, str]]:
        return list(self._values.values())

    def copy(self) -> "Variables":
        out = Variables()
        out._values = dict(self._values)
        return out


def _escape(value: str) -> str:
    return value.replace("'", "''")


def sanitize(value: str) -> str:
    """ParserUtil.sanitize: quotes doubled, a quoted value keeps its outer quotes."""
    if len(value) >= 2 and value.startswith("'") and value.endswith("'"):
        return "'" + _escape(value[1:-1]) + "'"
    return _escape(value)


def _unquote_string(raw: str) -> str:
    return raw[1:-1].replace("''", "'")


def _statement_ranges(tokens: list[Token]) -> list[tuple[int, int]]:
    """Token index ranges [start, end) of the statements (split at top-level ';')."""
    out, start = [], 0
    for i, t in enumerate(tokens):
        if t.kind == "OP" and t.value == ";":
            out.append((start, i + 1))
            start = i + 1
        elif t.kind == "EOF":
            if start < i:
                out.append((start, i))
    return out


def substitute(text: str, variables: Variables) -> str:
    """The request's text with its variables substituted; DEFINE / UNDEFINE statements
    update `variables` in order as they are passed. Text without `${` is returned as is."""
    if "${" not in text and "DEFINE" not in text.upper():
        return text
    tokens = tokenize(text)
    out: list[str] = []
    pos = 0
    for start, end in _statement_ranges(tokens):
        stmt = tokens[start:end]
        first = stmt[0]
        for t in stmt:
            replacement = None
            if t.kind == "VARIABLE":
                value = variables.get(t.value)
                if value is not None:
                    # an identifier's value goes in as it is, a literal's sanitized: the
                    # two differ only for a value with a single quote, which no
                    # identifier can have unless it is quoted
                    replacement = value if value[:1] in ("`", '"') else sanitize(value)
            elif t.kind == "STRING" and "${" in t.text:
                def repl(m: re.Match[str]) -> str:
                    value = variables.get(m.group(1))
                    return m.group(0) if value is None else _escape(value)
                replacement = _IN_STRING.sub(repl, t.text)
            if replacement is not None:
                out.append(text[pos:t.pos])
                out.append(replacement)
                pos = t.end
        if first.kind == "IDENT" and first.value in ("DEFINE", "UNDEFINE") and len(stmt) >= 2:
            name_tok = stmt[1]
            name = name_tok.value if name_tok.kind == "QIDENT" else name_tok.text
            if first.value == "DEFINE" and len(stmt) >= 4 and stmt[3].kind == "STRING":
                raw = stmt[3].text
                value_raw = _IN_STRING.sub(
                    lambda m: m.group(0) if variables.get(m.group(1)) is None
                    else _escape(variables.get(m.group(1)) or ""), raw)
                variables.define(name, _unquote_string(value_raw))
            elif first.value == "UNDEFINE":
                variables.undefine(name)
    out.append(text[pos:])
    return "".join(out)
