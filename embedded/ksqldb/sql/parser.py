"""Recursive-descent parser for the KSQL dialect of ksqlDB (`SqlBase.g4`).

Hand-written rather than generated: the grammar is small, and owning the parser lets
errors point at the exact token with ksqlDB's wording (`line 1:32: Syntax Error`,
`Expecting {',', ')'}`, reserved-keyword hints) and lets identifier case, back-quotes
and double quotes follow ksqlDB precisely. See docs/DESIGN.md, "ksqlDB engine".

Expression precedence, lowest first: OR, AND, NOT, predicates (comparison, BETWEEN,
IN, LIKE, IS [NOT] NULL, IS [NOT] DISTINCT FROM), `||`, `+ -`, `* / %`, unary `+ -`,
postfix (`[ ]`, `->`).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from fraudstream.embedded.ksqldb.sql import tree
from fraudstream.embedded.ksqldb.errors import KsqlParseError
from fraudstream.embedded.ksqldb.sql.lexer import RESERVED, Token, tokenize
from fraudstream.embedded.ksqldb.catalog.sqltypes import (
    PRIMITIVE_NAMES,
    SqlArray,
    SqlDecimal,
    SqlMap,
    SqlStruct,
    SqlType,
)

_WINDOW_UNITS = {
    "DAY": 86_400_000, "DAYS": 86_400_000,
    "HOUR": 3_600_000, "HOURS": 3_600_000,
    "MINUTE": 60_000, "MINUTES": 60_000,
    "SECOND": 1_000, "SECONDS": 1_000,
    "MILLISECOND": 1, "MILLISECONDS": 1,
}

_NON_RESERVED_UNITS = {"DAY", "HOUR", "MINUTE", "SECOND"}

_COMPARISON_OPS = ("=", "<>", "<", "<=", ">", ">=")

# words that may not be taken as an implicit alias because they start the next clause
#: tokens that may continue an expression after a `)` (postfix, binary, predicate operators)
_EXPR_CONTINUATION = frozenset({
    "+", "-", "*", "/", "%", "||", "=", "!=", "<>", "<", "<=", ">", ">=", "[", "->", ".",
    "AND", "OR", "IS", "NOT", "IN", "BETWEEN", "LIKE",
})
_CLOSE = frozenset({")"})
_ARG_FOLLOW = frozenset({",", ")"})
_SELECT_ITEM_FOLLOW = frozenset({",", "FROM", "AS", "<IDENT>"})
_WHERE_FOLLOW = frozenset({"GROUP", "PARTITION", "HAVING", "EMIT", "LIMIT", ";", "<EOF>"})
_LIST_FOLLOW = frozenset({",", "PARTITION", "HAVING", "EMIT", "LIMIT", "WINDOW", ";", "<EOF>"})
_CLAUSE_WORDS = {"PARTITION", "EMIT", "WINDOW", "WHERE", "GROUP", "HAVING", "LIMIT"}


class Parser:
    """Parses one request text (one or more `;`-terminated statements)."""

    def __init__(self, text: str, type_resolver: Callable[[str], SqlType | None] | None = None):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        #: what may follow the expression being parsed in its enclosing construct (a stack;
        #: see _missing_close), empty where no construct said
        self._follow: list[frozenset[str]] = []
        self.stmt_start = 0
        self.type_resolver = type_resolver
        #: custom types created earlier in this request (CREATE TYPE), by name
        self.local_types: dict[str, SqlType] = {}

    # ------------------------------------------------------------------ token helpers

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        if t.kind != "EOF":
            self.i += 1
        return t

    def at_kw(self, *words: str) -> bool:
        return self.tok.is_kw(*words)

    def at_op(self, *ops: str) -> bool:
        return self.tok.is_op(*ops)

    def accept_kw(self, *words: str) -> bool:
        if self.tok.is_kw(*words):
            self.advance()
            return True
        return False

    def accept_op(self, op: str) -> bool:
        if self.tok.is_op(op):
            self.advance()
            return True
        return False

    def expect_kw(self, word: str) -> Token:
        if not self.tok.is_kw(word):
            raise self.error_expecting([f"'{word}'"])
        return self.advance()

    def expect_op(self, op: str) -> Token:
        if not self.tok.is_op(op):
            raise self.error_expecting([f"'{op}'"])
        return self.advance()

    @staticmethod
    def loc(t: Token) -> tree.Loc:
        return (t.line, t.col)

    # ------------------------------------------------------------------ errors

    def _follows(self, t: Token, follow: frozenset[str]) -> bool:
        if t.kind == "EOF":
            return "<EOF>" in follow
        if t.kind == "OP":
            return t.value in follow or t.value in _EXPR_CONTINUATION
        if t.kind in ("IDENT", "QIDENT") and "<IDENT>" in follow and not (
                t.kind == "IDENT" and t.value in RESERVED):
            return True
        return t.kind == "IDENT" and (t.value in follow or t.value in _EXPR_CONTINUATION)

    def _expr_in(self, follow: frozenset[str], parse: Callable[[], Any]) -> Any:
        """Parse with `follow` as what may come after the expression (ANTLR's context)."""
        self._follow.append(follow)
        try:
            return parse()
        finally:
            self._follow.pop()

    def _expect_close(self) -> Token:
        """The `)` of a parenthesised expression, with ANTLR's inline recovery wording
        (DefaultErrorStrategy.recoverInline): a token before an expected `)` is extraneous
        ("Expecting ')'" as ksqlDB words it); a token that could follow the `)` in the
        enclosing construct means the `)` is missing — "missing ')' at ','" (ksqlDB's
        SyntaxErrorValidator passes that message through)."""
        t = self.tok
        if t.is_op(")"):
            return self.advance()
        if not self.peek().is_op(")") and self._follow and self._follows(t, self._follow[-1]):
            raise self.error(f"missing ')' at '{t.display()}'", t)
        raise self.error_expecting(["')'"], t)

    def _statement_text_around(self) -> str:
        start = self.tokens[self.stmt_start].pos
        j = self.i
        while self.tokens[j].kind != "EOF" and not self.tokens[j].is_op(";"):
            j += 1
        end = self.tokens[j].end if self.tokens[j].kind != "EOF" else len(self.text)
        return self.text[start:end].strip()

    def error(self, detail: str, t: Token | None = None) -> KsqlParseError:
        t = t or self.tok
        stmt = self._statement_text_around()
        msg = f"line {t.line}:{t.col + 1}: Syntax Error\n{detail}\nStatement: {stmt}"
        return KsqlParseError(msg, stmt, t.line, t.col + 1)

    def prepare_error(self, detail: str) -> KsqlParseError:
        """A statement that parses but that ksqlDB's AstBuilder refuses while building it
        (DefaultKsqlParser.prepare: "Failed to prepare statement: …", no position)."""
        stmt = self._statement_text_around()
        return KsqlParseError(f"Failed to prepare statement: {detail}", stmt)

    def error_near(self, t: Token | None = None) -> KsqlParseError:
        t = t or self.tok
        return self.error(
            f"Syntax error at or near '{t.display()}' at line {t.line}:{t.col + 1}", t
        )

    def error_expecting(self, expected: list[str], t: Token | None = None) -> KsqlParseError:
        t = t or self.tok
        if t.kind == "IDENT" and t.value in RESERVED and "identifier" in expected:
            return self.reserved_error(t)
        if len(expected) == 1:
            return self.error(f"Expecting {expected[0]}", t)
        return self.error("Expecting {" + ", ".join(expected) + "}", t)

    def reserved_error(self, t: Token) -> KsqlParseError:
        return self.error(
            f'"{t.text}" is a reserved keyword and it can\'t be used as an identifier. '
            f"You can use it as an identifier by escaping it as '{t.text}' ",
            t,
        )

    # ------------------------------------------------------------------ statements

    def parse_statements(self) -> list[tree.Statement]:
        out: list[tree.Statement] = []
        while self.tok.kind != "EOF":
            if self.accept_op(";"):
                continue
            self.stmt_start = self.i
            first = self.tok
            stmt = self.parse_statement()
            if self.tok.is_op(";"):
                end_tok = self.advance()
                end = end_tok.end
            elif self.tok.kind == "EOF":
                end = len(self.text)
            elif isinstance(stmt, tree.QueryStatement):
                # ANTLR: "mismatched input … expecting {';', WINDOW, WHERE, …}"; ksqlDB's
                # SyntaxErrorValidator lists no expectations past three alternatives
                raise self.error("")
            else:
                raise self.error_near()
            stmt.text = self.text[first.pos:end].strip()
            stmt.loc = self.loc(first)
            out.append(stmt)
        return out

    def parse_statement(self) -> tree.Statement:
        t = self.tok
        word = t.value if t.kind == "IDENT" else None
        if word == "SELECT":
            return tree.QueryStatement(query=self.parse_query())
        if word == "CREATE":
            return self.parse_create()
        if word == "INSERT":
            return self.parse_insert()
        if word == "DROP":
            return self.parse_drop()
        if word == "TERMINATE":
            self.advance()
            if self.accept_kw("ALL"):
                return tree.Terminate(query_id=None)
            return tree.Terminate(query_id=self.identifier())
        if word in ("SHOW", "LIST"):
            return self.parse_list()
        if word == "DESCRIBE":
            return self.parse_describe()
        if word == "SET":
            self.advance()
            name = self.string_or_variable()
            self.expect_op("=")
            value = self.string_or_variable()
            return tree.SetProperty(name=name, value=value)
        if word == "UNSET":
            self.advance()
            return tree.UnsetProperty(name=self.string_or_variable())
        if word == "DEFINE":
            self.advance()
            name = self.identifier(upper=False)
            self.expect_op("=")
            if self.tok.kind != "STRING":
                raise self.error_expecting(["STRING"])
            return tree.DefineVariable(name=name, value=self.advance().value)
        if word == "UNDEFINE":
            self.advance()
            return tree.UndefineVariable(name=self.identifier(upper=False))
        if word == "EXPLAIN":
            self.advance()
            if self.at_kw("SELECT", "CREATE", "INSERT"):
                return tree.Explain(statement=self.parse_statement())
            return tree.Explain(query_id=self.identifier())
        if word == "PRINT":
            return self.parse_print()
        if word in ("PAUSE", "RESUME"):
            self.advance()
            qid = None if self.accept_kw("ALL") else self.identifier()
            return (tree.PauseQuery if word == "PAUSE" else tree.ResumeQuery)(query_id=qid)
        if word == "ALTER":
            return self.parse_alter()
        if word == "ASSERT":
            return self.parse_assert()
        if t.kind == "EOF":
            raise self.error_near()
        raise self.error(f"Unknown statement '{t.text}'", t)

    def parse_alter(self) -> tree.Statement:
        """`ALTER (STREAM | TABLE) name alterOption (',' alterOption)*`, alterOption being
        `ADD [COLUMN] identifier type`; `ALTER SYSTEM 'k'='v'` (Confluent Cloud only)."""
        self.expect_kw("ALTER")
        if self.at_kw("SYSTEM"):
            self.advance()
            name = self.string_or_variable()
            self.expect_op("=")
            value = self.string_or_variable()
            return tree.AlterSystemProperty(name=name, value=value)
        if not self.at_kw("STREAM", "TABLE"):
            raise self.error_near()
        kind = self.advance().value
        name = self.source_name()
        columns: list[tuple[str, SqlType]] = []
        while True:
            self.expect_kw("ADD")
            self.accept_kw("COLUMN")
            col = self.identifier()
            columns.append((col, self.parse_type()))
            if not self.accept_op(","):
                return tree.AlterSource(kind=kind, name=name, columns=columns)

    def parse_assert(self) -> tree.Statement:
        """`ASSERT [NOT EXISTS] TOPIC name [WITH (...)] [TIMEOUT n unit]` and
        `ASSERT [NOT EXISTS] SCHEMA [SUBJECT name] [ID literal] [TIMEOUT n unit]`; the
        test-only forms (ASSERT VALUES/STREAM/TABLE) are not statements."""
        self.expect_kw("ASSERT")
        exists = True
        if self.at_kw("NOT"):
            self.advance()
            self.expect_kw("EXISTS")
            exists = False
        if self.accept_kw("TOPIC"):
            if self.tok.kind == "STRING":
                topic = self.advance().value
            else:
                topic = self.identifier(upper=False)
            props = self.parse_properties() if self.accept_kw("WITH") else {}
            return tree.AssertTopic(topic=topic, properties=props, exists=exists,
                                    timeout_ms=self.parse_assert_timeout())
        if self.accept_kw("SCHEMA"):
            subject = None
            schema_id = None
            if self.accept_kw("SUBJECT"):
                subject = self.advance().value if self.tok.kind == "STRING" else self.identifier(upper=False)
            if self.accept_kw("ID"):
                schema_id = self.literal_value()
                if isinstance(schema_id, bool) or not isinstance(schema_id, int):
                    raise self.prepare_error("ID must be an integer")
            timeout = self.parse_assert_timeout()
            if subject is None and schema_id is None:
                raise self.prepare_error("ASSERT SCHEMA statements much include a subject name or an id")
            return tree.AssertSchema(subject=subject, schema_id=schema_id, exists=exists,
                                     timeout_ms=timeout)
        raise self.error_near()

    def parse_assert_timeout(self) -> int | None:
        if not self.accept_kw("TIMEOUT"):
            return None
        t = self.tok
        if t.kind != "INTEGER":
            raise self.error_near()
        n = int(self.advance().value)
        if self.tok.kind != "IDENT":
            raise self.error_near()
        unit = self.advance().value.rstrip("S")
        ms = {"MILLISECOND": 1, "SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000,
              "DAY": 86_400_000}.get(unit)
        if ms is None:
            raise self.error_near(t)
        return n * ms

    def string_or_variable(self) -> str:
        if self.tok.kind in ("STRING", "VARIABLE"):
            return self.advance().value
        raise self.error_expecting(["STRING", "VARIABLE"])

    def parse_create(self) -> tree.Statement:
        self.expect_kw("CREATE")
        or_replace = False
        if self.accept_kw("OR"):
            self.expect_kw("REPLACE")
            or_replace = True
        is_source = self.accept_kw("SOURCE")
        if self.at_kw("STREAM", "TABLE"):
            kind = self.advance().value
        elif self.at_kw("TYPE") and not is_source and not or_replace:
            return self.parse_create_type()
        elif self.at_kw("TYPE", "CONNECTOR", "SINK"):
            raise self.error(f"CREATE {self.tok.value} is not supported by this engine")
        else:
            raise self.error_expecting(["'STREAM'", "'TABLE'"])
        if_not_exists = False
        if self.accept_kw("IF"):
            self.expect_kw("NOT")
            self.expect_kw("EXISTS")
            if_not_exists = True
        name_tok = self.tok
        name = self.source_name()
        elements = None
        if self.at_op("("):
            elements = self.parse_table_elements()
        props: dict[str, Any] = {}
        if self.accept_kw("WITH"):
            props = self.parse_properties()
        if self.at_kw("AS") and elements is None and not is_source:
            self.advance()
            query = self.parse_query()
            if query.limit is not None:
                raise self.prepare_error(f"CREATE {kind} AS SELECT statements don't support LIMIT clause.")
            return tree.CreateAsSelect(
                kind=kind, name=name, query=query, properties=props, or_replace=or_replace,
                if_not_exists=if_not_exists, name_loc=self.loc(name_tok),
            )
        return tree.CreateSource(
            kind=kind, name=name, elements=elements, properties=props, or_replace=or_replace,
            if_not_exists=if_not_exists, is_source=is_source, name_loc=self.loc(name_tok),
        )

    def parse_table_elements(self) -> list[tree.TableElement]:
        self.expect_op("(")
        out = []
        while True:
            t = self.tok
            name = self.identifier()
            typ = self.parse_type()
            constraint = None
            header_key = None
            if self.accept_kw("PRIMARY"):
                self.expect_kw("KEY")
                constraint = "PRIMARY KEY"
            elif self.accept_kw("KEY"):
                constraint = "KEY"
            elif self.accept_kw("HEADERS"):
                constraint = "HEADERS"
            elif self.accept_kw("HEADER"):
                self.expect_op("(")
                if self.tok.kind != "STRING":
                    raise self.error_expecting(["STRING"])
                header_key = self.advance().value
                self.expect_op(")")
                constraint = "HEADER"
            out.append(tree.TableElement(name, typ, constraint, header_key, self.loc(t)))
            if self.accept_op(","):
                continue
            if self.accept_op(")"):
                return out
            raise self.error_expecting(["','", "')'"])

    def parse_properties(self) -> dict[str, Any]:
        self.expect_op("(")
        props: dict[str, Any] = {}
        while True:
            if self.tok.kind == "STRING":
                key = self.advance().value.upper()
            else:
                key = self.identifier()
            self.expect_op("=")
            props[key] = self.literal_value()
            if self.accept_op(","):
                continue
            self.expect_op(")")
            return props

    def literal_value(self) -> Any:
        lit = self.parse_primary()
        if isinstance(lit, tree.Negate) and isinstance(
            lit.expr, (tree.IntegerLiteral, tree.DecimalLiteral, tree.DoubleLiteral)
        ):
            return -lit.expr.value
        if isinstance(lit, tree.NullLiteral):
            return None
        if isinstance(lit, (tree.StringLiteral, tree.IntegerLiteral, tree.DecimalLiteral,
                            tree.DoubleLiteral, tree.BooleanLiteral)):
            return lit.value
        raise self.error_near()

    def parse_insert(self) -> tree.Statement:
        self.expect_kw("INSERT")
        self.expect_kw("INTO")
        target_tok = self.tok
        quoted = target_tok.kind == "QIDENT"
        target = self.source_name()
        if self.at_op("(") or self.at_kw("VALUES"):
            columns = None
            if self.accept_op("("):
                columns = [self.identifier()]
                while self.accept_op(","):
                    columns.append(self.identifier())
                self.expect_op(")")
            self.expect_kw("VALUES")
            self.expect_op("(")
            values: list[tree.Expr] = []
            if not self.at_op(")"):
                values.append(self.parse_value_expression())
                while self.accept_op(","):
                    values.append(self.parse_value_expression())
            self.expect_op(")")
            # AstBuilder / InsertValues refuse these while building the statement
            if not values:
                raise self.prepare_error("Expected some values for INSERT INTO statement.")
            if columns is not None and len(columns) != len(values):
                raise self.prepare_error(
                    f"Expected number columns and values to match: {len(columns)}, {len(values)}")
            for v in values:
                for x in tree.walk(v):
                    if isinstance(x, tree.ColumnRef) and x.source is not None and x.source != target:
                        raise self.prepare_error(f"'{x.source}' is not a valid stream/table name or alias.")
            return tree.InsertValues(
                target=target, columns=columns, values=values, target_quoted=quoted,
                target_loc=self.loc(target_tok),
            )
        props: dict[str, Any] = {}
        if self.accept_kw("WITH"):
            props = self.parse_properties()
        query = self.parse_query()
        return tree.InsertInto(
            target=target, query=query, properties=props, target_quoted=quoted,
            target_loc=self.loc(target_tok),
        )

    def parse_create_type(self) -> tree.Statement:
        """CREATE TYPE [IF NOT EXISTS] name AS type. The name is usable by the statements
        after it in the same request (ksqlDB prepares each statement after running the
        previous one)."""
        self.expect_kw("TYPE")
        if_not_exists = False
        if self.accept_kw("IF"):
            self.expect_kw("NOT")
            self.expect_kw("EXISTS")
            if_not_exists = True
        name = self.identifier()
        self.expect_kw("AS")
        t = self.parse_type()
        if not (if_not_exists and self._resolve_type(name) is not None):
            self.local_types[name] = t
        return tree.CreateType(name=name, type=t, if_not_exists=if_not_exists)

    def _resolve_type(self, name: str) -> SqlType | None:
        if name in self.local_types:
            return self.local_types[name]
        return self.type_resolver(name) if self.type_resolver is not None else None

    def parse_drop(self) -> tree.Statement:
        self.expect_kw("DROP")
        if self.at_kw("TYPE"):
            self.advance()
            if_exists = False
            if self.accept_kw("IF"):
                self.expect_kw("EXISTS")
                if_exists = True
            name = self.identifier()
            self.local_types.pop(name, None)
            return tree.DropType(name=name, if_exists=if_exists)
        if not self.at_kw("STREAM", "TABLE"):
            if self.at_kw("CONNECTOR"):
                raise self.error(f"DROP {self.tok.value} is not supported by this engine")
            raise self.error_expecting(["'STREAM'", "'TABLE'"])
        kind = self.advance().value
        if_exists = False
        if self.accept_kw("IF"):
            self.expect_kw("EXISTS")
            if_exists = True
        name = self.source_name()
        delete_topic = False
        if self.accept_kw("DELETE"):
            self.expect_kw("TOPIC")
            delete_topic = True
        return tree.DropSource(kind=kind, name=name, if_exists=if_exists, delete_topic=delete_topic)

    def parse_list(self) -> tree.Statement:
        self.advance()
        if self.accept_kw("PROPERTIES"):
            return tree.ListStatement(what="PROPERTIES")
        all_ = self.accept_kw("ALL")
        if self.accept_kw("TOPICS"):
            return tree.ListStatement(what="TOPICS", all=all_, extended=self.accept_kw("EXTENDED"))
        if all_:
            raise self.error_expecting(["'TOPICS'"])
        for what in ("STREAMS", "TABLES", "QUERIES"):
            if self.accept_kw(what):
                return tree.ListStatement(what=what, extended=self.accept_kw("EXTENDED"))
        for what in ("FUNCTIONS", "TYPES", "VARIABLES"):
            if self.accept_kw(what):
                return tree.ListStatement(what=what)
        if self.at_kw("CONNECTORS", "SOURCE", "SINK", "CONNECTOR"):
            raise self.error("Connectors are not supported by this engine")
        raise self.error_near()

    def parse_describe(self) -> tree.Statement:
        self.expect_kw("DESCRIBE")
        if self.accept_kw("STREAMS"):
            return tree.DescribeStreams(extended=self.accept_kw("EXTENDED"))
        if self.at_kw("TABLES"):
            self.advance()
            return tree.ListStatement(what="TABLES", extended=True)
        if self.at_kw("FUNCTION") and self.peek().kind in ("IDENT", "QIDENT"):
            self.advance()
            return tree.DescribeFunction(name=self.identifier())
        if self.at_kw("CONNECTOR") and self.peek().kind in ("IDENT", "QIDENT"):
            # DESCRIBE CONNECTOR needs a Kafka Connect cluster, which this engine has not
            raise self.error("Connectors are not supported by this engine")
        name = self.source_name()
        return tree.Describe(name=name, extended=self.accept_kw("EXTENDED"))

    def parse_print(self) -> tree.Statement:
        self.expect_kw("PRINT")
        if self.tok.kind == "STRING":
            topic = self.advance().value
        else:
            topic = self.identifier(upper=False)
        stmt = tree.PrintTopic(topic=topic)
        if self.accept_kw("FROM"):
            self.expect_kw("BEGINNING")
            stmt.from_beginning = True
        if self.accept_kw("INTERVAL", "SAMPLE"):
            stmt.interval = self.integer_number("INTERVAL")
        if self.accept_kw("LIMIT"):
            stmt.limit = self.integer_number("LIMIT")
        return stmt

    # ------------------------------------------------------------------ identifiers

    def identifier(self, upper: bool = True) -> str:
        t = self.tok
        if t.kind == "QIDENT":
            self.advance()
            return t.value
        if t.kind in ("IDENT", "DIGIT_IDENT"):
            if t.kind == "IDENT" and t.value in RESERVED:
                raise self.reserved_error(t)
            self.advance()
            return t.value if upper else t.text
        if t.kind == "VARIABLE":
            # VariableSubstitutor.throwIfInvalidIdentifier: an undefined variable stays
            # `${name}`, which is no identifier
            raise KsqlParseError(
                f"Illegal argument at Line: {t.line}, Col: {t.col + 1}. Identifier names cannot start "
                "with '@' and may only contain alphanumeric values and '_'.",
                self._statement_text_around(), t.line, t.col + 1)
        raise self.error_expecting(["identifier"])

    def is_identifier_start(self, t: Token | None = None) -> bool:
        t = t or self.tok
        if t.kind in ("QIDENT", "DIGIT_IDENT"):
            return True
        return t.kind == "IDENT" and t.value not in RESERVED

    def source_name(self) -> str:
        t = self.tok
        name = self.identifier()
        if t.kind != "QIDENT":
            pass
        import re

        if not re.fullmatch(r"[a-zA-Z0-9_-]*", name):
            raise KsqlParseError(
                f"Illegal argument at Line: {t.line}, Col: {t.col + 1}. Source names may only "
                f"contain alphanumeric values, '_' or '-'. Got: '{name}'",
                self._statement_text_around(), t.line, t.col + 1,
            )
        return name

    def integer_number(self, command: str) -> int:
        """ksqlDB's `number` rule where a command needs an integer (LIMIT, INTERVAL):
        a decimal or floating point literal parses, then is refused (ParserUtil.processIntegerNumber)."""
        neg = self.at_op("-")
        t = self.peek() if neg else self.tok
        if t.kind in ("DECIMAL", "FLOAT"):
            raise self.prepare_error(f"Value must be integer for command: {command}")
        if t.kind != "INTEGER":
            # ANTLR expects {'-', INTEGER_VALUE, DECIMAL_VALUE, FLOATING_POINT_VALUE}: more
            # than three, so ksqlDB's SyntaxErrorValidator names none
            raise self.error("", t)
        return self.integer()

    def integer(self) -> int:
        neg = self.accept_op("-")
        t = self.tok
        if t.kind != "INTEGER":
            raise self.error_expecting(["INTEGER_VALUE"])
        self.advance()
        return -int(t.value) if neg else int(t.value)

    # ------------------------------------------------------------------ types

    def parse_type(self) -> SqlType:
        t = self.tok
        if t.kind == "IDENT":
            word = t.value
            if word == "ARRAY" and self.peek().is_op("<"):
                self.advance()
                self.advance()
                item = self.parse_type()
                self.expect_type_close()
                return SqlArray(item)
            if word == "MAP" and self.peek().is_op("<"):
                self.advance()
                self.advance()
                k = self.parse_type()
                self.expect_op(",")
                v = self.parse_type()
                self.expect_type_close()
                return SqlMap(k, v)
            if word == "STRUCT" and self.peek().is_op("<"):
                self.advance()
                self.advance()
                fields: list[tuple[str, SqlType]] = []
                if not self.at_op(">"):
                    while True:
                        fname = self.identifier()
                        fields.append((fname, self.parse_type()))
                        if not self.accept_op(","):
                            break
                self.expect_type_close()
                return SqlStruct(tuple(fields))
            if word == "DECIMAL" and self.peek().is_op("("):
                self.advance()
                self.advance()
                p = self.integer()
                self.expect_op(",")
                s = self.integer()
                self.expect_op(")")
                if p < 1:
                    raise self.error(f"DECIMAL precision must be >= 1: DECIMAL({p},{s})", t)
                if s < 0 or s > p:
                    raise self.error(
                        f"DECIMAL scale must be between 0 and precision {p}. Got: {s}", t
                    )
                return SqlDecimal(p, s)
        if not self.is_identifier_start(t):
            raise self.error_near(t)
        name = self.identifier()
        base = PRIMITIVE_NAMES.get(name)
        if base is None:
            base = self._resolve_type(name)
        if base is None:
            raise self.error(f"Unknown type: {name}", t)
        if self.accept_op("("):
            while True:
                p = self.tok
                if p.kind == "INTEGER" or p.is_kw("STRING"):
                    self.advance()
                else:
                    raise self.error_expecting(["'STRING'", "INTEGER_VALUE"])
                if not self.accept_op(","):
                    break
            self.expect_op(")")
        return base

    def expect_type_close(self) -> None:
        if self.at_op(">"):
            self.advance()
            return
        if self.at_op(">="):
            # `MAP<STRING, ARRAY<INT>>=`-style run-ons never occur in DDL; treat as error
            raise self.error_near()
        raise self.error_expecting(["'>'"])

    # ------------------------------------------------------------------ queries

    def parse_query(self) -> tree.Query:
        start = self.expect_kw("SELECT")
        items = [self._expr_in(_SELECT_ITEM_FOLLOW, self.parse_select_item)]
        while self.accept_op(","):
            items.append(self._expr_in(_SELECT_ITEM_FOLLOW, self.parse_select_item))
        self.expect_kw("FROM")
        source = self.parse_aliased_relation()
        joins = []
        while self.at_kw("JOIN", "INNER", "LEFT", "RIGHT", "FULL"):
            joins.append(self.parse_join())
        q = tree.Query(select=items, source=source, joins=joins, loc=self.loc(start))
        if self.accept_kw("WINDOW"):
            q.window = self.parse_window()
        if self.accept_kw("WHERE"):
            q.where = self._expr_in(_WHERE_FOLLOW, self.parse_expression)
        if self.at_kw("GROUP") and self.peek().is_kw("BY"):
            self.advance()
            self.advance()
            q.group_by = self._expr_in(_LIST_FOLLOW, self.parse_expression_list)
        if self.at_kw("PARTITION") and self.peek().is_kw("BY"):
            self.advance()
            self.advance()
            q.partition_by = self._expr_in(_LIST_FOLLOW, self.parse_expression_list)
        if self.accept_kw("HAVING"):
            q.having = self.parse_expression()
        if self.accept_kw("EMIT"):
            if self.at_kw("CHANGES", "FINAL"):
                q.emit = self.advance().value
            else:
                raise self.error_expecting(["'CHANGES'", "'FINAL'"])
        if self.accept_kw("LIMIT"):
            q.limit = self.integer_number("LIMIT")
        return q

    def parse_expression_list(self) -> list[tree.Expr]:
        # `(a, b)` and `()` are lists; `(a + b) * 2` is a single expression
        if self.at_op("("):
            save = self.i
            self.advance()
            if self.accept_op(")"):
                return []
            try:
                first = self.parse_value_expression()
                if self.at_op(","):
                    items = [first]
                    while self.accept_op(","):
                        items.append(self.parse_value_expression())
                    self.expect_op(")")
                    if not self._at_list_end():
                        raise self.error_near()
                    return items
            except KsqlParseError:
                pass
            self.i = save
        items = [self.parse_value_expression()]
        while self.accept_op(","):
            items.append(self.parse_value_expression())
        return items

    def _at_list_end(self) -> bool:
        return self.tok.kind == "EOF" or self.at_op(";") or self.at_kw(
            "PARTITION", "HAVING", "EMIT", "LIMIT", "WINDOW"
        )

    def parse_select_item(self) -> tree.SelectItem:
        t = self.tok
        if self.accept_op("*"):
            return tree.SelectItem(None, star=True, loc=self.loc(t))
        if self.is_identifier_start() and self.peek().is_op(".") and self.peek(2).is_op("*"):
            src = self.identifier()
            self.advance()
            self.advance()
            return tree.SelectItem(None, star=True, star_source=src, loc=self.loc(t))
        expr = self.parse_expression()
        if self.at_op("->") and self.peek().is_op("*"):
            self.advance()
            self.advance()
            return tree.SelectItem(expr, struct_star=True, loc=self.loc(t))
        alias = None
        if self.accept_kw("AS"):
            alias = self.identifier()
        elif self.is_identifier_start() and not (
            self.tok.kind == "IDENT" and self.tok.value in _CLAUSE_WORDS
        ):
            alias = self.identifier()
        return tree.SelectItem(expr, alias=alias, loc=self.loc(t))

    def parse_aliased_relation(self) -> tree.Relation:
        t = self.tok
        name = self.source_name()
        alias = None
        if self.accept_kw("AS"):
            alias = self.source_name()
        elif self.is_identifier_start() and not (
            self.tok.kind == "IDENT" and self.tok.value in _CLAUSE_WORDS
            and (self.peek().is_kw("BY", "CHANGES", "FINAL", "TUMBLING", "HOPPING", "SESSION"))
        ):
            alias = self.source_name()
        return tree.Relation(name=name, alias=alias, loc=self.loc(t))

    def parse_join(self) -> tree.JoinSpec:
        t = self.tok
        join_type = "INNER"
        if self.accept_kw("INNER"):
            pass
        elif self.accept_kw("LEFT"):
            join_type = "LEFT"
            self.accept_kw("OUTER")
        elif self.accept_kw("RIGHT"):
            join_type = "RIGHT"
            self.accept_kw("OUTER")
        elif self.accept_kw("FULL"):
            join_type = "OUTER"
            self.accept_kw("OUTER")
        self.expect_kw("JOIN")
        right = self.parse_aliased_relation()
        within = None
        grace = None
        if self.accept_kw("WITHIN"):
            if self.accept_op("("):
                before = self.window_size()
                self.expect_op(",")
                after = self.window_size()
                self.expect_op(")")
                within = (before, after)
            else:
                size = self.window_size()
                within = (size, size)
            if self.accept_kw("GRACE"):
                self.expect_kw("PERIOD")
                grace = self.window_size()
        self.expect_kw("ON")
        criteria = self.parse_expression()
        return tree.JoinSpec(join_type, right, criteria, within, grace, self.loc(t))

    def window_size(self) -> int:
        n = self.integer()
        if not (self.tok.kind == "IDENT" and self.tok.value in _WINDOW_UNITS):
            raise self.error_expecting(["'DAY'", "'HOUR'", "'MINUTE'", "'SECOND'", "'MILLISECOND'"])
        return n * _WINDOW_UNITS[self.advance().value]

    def parse_window(self) -> tree.WindowSpec:
        if self.tok.kind == "IDENT" and self.tok.value not in ("TUMBLING", "HOPPING", "SESSION"):
            self.advance()  # optional window name
        if self.accept_kw("TUMBLING"):
            self.expect_op("(")
            self.expect_kw("SIZE")
            spec = tree.WindowSpec("TUMBLING", self.window_size())
        elif self.accept_kw("HOPPING"):
            self.expect_op("(")
            self.expect_kw("SIZE")
            size = self.window_size()
            self.expect_op(",")
            self.expect_kw("ADVANCE")
            self.expect_kw("BY")
            spec = tree.WindowSpec("HOPPING", size, advance_ms=self.window_size())
        elif self.accept_kw("SESSION"):
            self.expect_op("(")
            spec = tree.WindowSpec("SESSION", self.window_size())
        else:
            raise self.error_expecting(["'TUMBLING'", "'HOPPING'", "'SESSION'"])
        while self.accept_op(","):
            if self.accept_kw("RETENTION"):
                spec.retention_ms = self.window_size()
            elif self.accept_kw("GRACE"):
                self.expect_kw("PERIOD")
                spec.grace_ms = self.window_size()
            else:
                raise self.error_expecting(["'RETENTION'", "'GRACE'"])
        self.expect_op(")")
        return spec

    # ------------------------------------------------------------------ expressions

    def parse_expression(self) -> tree.Expr:
        return self.parse_or()

    def parse_or(self) -> tree.Expr:
        left = self.parse_and()
        while self.at_kw("OR"):
            t = self.advance()
            left = tree.Logical("OR", left, self.parse_and(), loc=self.loc(t))
        return left

    def parse_and(self) -> tree.Expr:
        left = self.parse_not()
        while self.at_kw("AND"):
            t = self.advance()
            left = tree.Logical("AND", left, self.parse_not(), loc=self.loc(t))
        return left

    def parse_not(self) -> tree.Expr:
        if self.at_kw("NOT"):
            t = self.advance()
            return tree.Not(self.parse_not(), loc=self.loc(t))
        return self.parse_predicated()

    def parse_predicated(self) -> tree.Expr:
        start = self.tok
        value = self.parse_value_expression()
        loc = self.loc(start)
        t = self.tok
        if t.kind == "OP" and t.value in _COMPARISON_OPS:
            self.advance()
            return tree.Comparison(t.value, value, self.parse_value_expression(), loc=loc)
        negated = False
        if self.at_kw("NOT") and self.peek().is_kw("BETWEEN", "IN", "LIKE"):
            self.advance()
            negated = True
        if self.accept_kw("BETWEEN"):
            low = self.parse_value_expression()
            self.expect_kw("AND")
            high = self.parse_value_expression()
            return tree.Between(value, low, high, negated, loc=loc)
        if self.accept_kw("IN"):
            self.expect_op("(")
            items = [self.parse_expression()]
            while self.accept_op(","):
                items.append(self.parse_expression())
            self.expect_op(")")
            return tree.InList(value, items, negated, loc=loc)
        if self.accept_kw("LIKE"):
            pattern = self.parse_value_expression()
            escape = None
            if self.accept_kw("ESCAPE"):
                if self.tok.kind != "STRING":
                    raise self.error_expecting(["STRING"])
                escape = self.advance().value
            return tree.Like(value, pattern, escape, negated, loc=loc)
        if self.at_kw("IS"):
            self.advance()
            neg = self.accept_kw("NOT")
            if self.accept_kw("NULL"):
                return tree.IsNull(value, neg, loc=loc)
            if self.accept_kw("DISTINCT"):
                self.expect_kw("FROM")
                return tree.IsDistinct(value, self.parse_value_expression(), neg, loc=loc)
            raise self.error_expecting(["'NULL'", "'DISTINCT'"])
        return value

    def parse_value_expression(self) -> tree.Expr:
        left = self.parse_additive()
        while self.at_op("||"):
            t = self.advance()
            left = tree.Concat(left, self.parse_additive(), loc=self.loc(t))
        return left

    def parse_additive(self) -> tree.Expr:
        left = self.parse_multiplicative()
        while self.at_op("+", "-"):
            t = self.advance()
            left = tree.Arithmetic(t.value, left, self.parse_multiplicative(), loc=left.loc or self.loc(t))
        return left

    def parse_multiplicative(self) -> tree.Expr:
        left = self.parse_unary()
        while self.at_op("*", "/", "%"):
            t = self.advance()
            left = tree.Arithmetic(t.value, left, self.parse_unary(), loc=left.loc or self.loc(t))
        return left

    def parse_unary(self) -> tree.Expr:
        if self.at_op("-", "+"):
            t = self.advance()
            nt = self.tok
            if t.value == "-" and nt.kind in ("INTEGER", "DECIMAL", "FLOAT"):
                lit = self.number_literal(negative=True)
                return self.parse_postfix(lit)
            inner = self.parse_unary()
            if t.value == "+":
                return inner
            return tree.Negate(inner, loc=self.loc(t))
        return self.parse_postfix(self.parse_primary())

    def parse_postfix(self, expr: tree.Expr) -> tree.Expr:
        while True:
            if self.at_op("["):
                t = self.advance()
                idx = self.parse_value_expression()
                self.expect_op("]")
                expr = tree.Subscript(expr, idx, loc=expr.loc or self.loc(t))
            elif self.at_op("->") and not self.peek().is_op("*"):
                t = self.advance()
                expr = tree.Dereference(expr, self.identifier(), loc=expr.loc or self.loc(t))
            else:
                return expr

    def number_literal(self, negative: bool = False) -> tree.Expr:
        t = self.advance()
        text = ("-" if negative else "") + t.value
        loc = self.loc(t)
        if t.kind == "INTEGER":
            v = int(text)
            if not -(2**63) <= v <= 2**63 - 1:
                raise self.error(f"Invalid numeric literal: {text}", t)
            return tree.IntegerLiteral(v, loc=loc)
        if t.kind == "DECIMAL":
            try:
                return tree.DecimalLiteral(Decimal(text), loc=loc)
            except InvalidOperation:
                raise self.error(f"Invalid numeric literal: {text}", t) from None
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise self.error(f"Number overflows DOUBLE: {text}", t)
        return tree.DoubleLiteral(value, loc=loc)

    def parse_primary(self) -> tree.Expr:
        t = self.tok
        loc = self.loc(t)
        kind = t.kind
        if kind in ("INTEGER", "DECIMAL", "FLOAT"):
            return self.number_literal()
        if kind == "STRING":
            self.advance()
            return tree.StringLiteral(t.value, loc=loc)
        if kind == "VARIABLE":
            # VariableSubstitutor.throwIfInvalidLiteral: an undefined variable is no literal
            raise KsqlParseError(f"Illegal argument at Line: {t.line}, Col: {t.col + 1}.",
                                 self._statement_text_around(), t.line, t.col + 1)
        if kind == "OP":
            if t.value == "(":
                self.advance()
                e = self._expr_in(_CLOSE, self.parse_expression)
                self._expect_close()
                return e
            if t.value == "-" or t.value == "+":
                return self.parse_unary()
            raise self.error_near(t)
        if kind == "EOF":
            raise self.error_near(t)
        word = t.value if kind == "IDENT" else None
        if word == "NULL":
            self.advance()
            return tree.NullLiteral(loc=loc)
        if word in ("TRUE", "FALSE"):
            self.advance()
            return tree.BooleanLiteral(word == "TRUE", loc=loc)
        if word == "CASE":
            return self.parse_case()
        if word == "CAST":
            self.advance()
            self.expect_op("(")
            e = self.parse_expression()
            self.expect_kw("AS")
            typ = self.parse_type()
            self.expect_op(")")
            return tree.Cast(e, typ, loc=loc)
        if word == "ARRAY" and self.peek().is_op("["):
            self.advance()
            self.advance()
            items: list[tree.Expr] = []
            if not self.at_op("]"):
                items.append(self.parse_expression())
                while self.accept_op(","):
                    items.append(self.parse_expression())
            self.expect_op("]")
            return tree.ArrayCtor(items, loc=loc)
        if word == "MAP" and self.peek().is_op("("):
            self.advance()
            self.advance()
            entries: list[tuple[tree.Expr, tree.Expr]] = []
            if not self.at_op(")"):
                while True:
                    k = self.parse_expression()
                    self.expect_op(":=")
                    entries.append((k, self.parse_expression()))
                    if not self.accept_op(","):
                        break
            self.expect_op(")")
            return tree.MapCtor(entries, loc=loc)
        if word == "STRUCT" and self.peek().is_op("("):
            self.advance()
            self.advance()
            fields: list[tuple[str, tree.Expr]] = []
            if not self.at_op(")"):
                while True:
                    name = self.identifier()
                    self.expect_op(":=")
                    fields.append((name, self.parse_expression()))
                    if not self.accept_op(","):
                        break
            self.expect_op(")")
            return tree.StructCtor(fields, loc=loc)
        if not self.is_identifier_start(t):
            if kind == "IDENT" and t.value in RESERVED:
                raise self.error_near(t)
            raise self.error_near(t)
        # function call, column reference or qualified column reference
        if self.peek().is_op("("):
            name = self.identifier()
            self.advance()
            if self.accept_op("*"):
                self.expect_op(")")
                return tree.FunctionCall(name, [], star=True, loc=loc)
            args: list[tree.Expr] = []
            if not self.at_op(")"):
                while True:
                    args.append(self._expr_in(_ARG_FOLLOW, self.parse_function_argument))
                    if not self.accept_op(","):
                        break
            self.expect_op(")")
            return tree.FunctionCall(name, args, loc=loc)
        if self.peek().is_op("=>"):
            param = self.identifier()
            self.advance()
            return tree.Lambda([param], self.parse_expression(), loc=loc)
        name = self.identifier()
        if self.at_op(".") and self.is_identifier_start(self.peek()):
            self.advance()
            col = self.identifier()
            return tree.ColumnRef(col, source=name, loc=loc)
        return tree.ColumnRef(name, loc=loc)

    def parse_function_argument(self) -> tree.Expr:
        t = self.tok
        # DAY, HOUR, MINUTE and SECOND are also non-reserved identifiers, and ksqlDB's
        # grammar prefers reading a function argument as an expression: only the other
        # unit words are time units there
        if t.kind == "IDENT" and t.value in _WINDOW_UNITS and t.value not in _NON_RESERVED_UNITS and (
            self.peek().is_op(",") or self.peek().is_op(")")
        ):
            self.advance()
            return tree.IntervalUnit(t.value, loc=self.loc(t))
        if t.is_op("(") and self._looks_like_lambda():
            self.advance()
            params = [self.identifier()]
            while self.accept_op(","):
                params.append(self.identifier())
            self.expect_op(")")
            self.expect_op("=>")
            return tree.Lambda(params, self.parse_expression(), loc=self.loc(t))
        return self.parse_expression()

    def _looks_like_lambda(self) -> bool:
        j = self.i + 1
        while j < len(self.tokens):
            tk = self.tokens[j]
            if tk.is_op(")"):
                return self.tokens[j + 1].is_op("=>") if j + 1 < len(self.tokens) else False
            if not (tk.is_op(",") or tk.kind in ("IDENT", "QIDENT")):
                return False
            j += 1
        return False

    def parse_case(self) -> tree.Expr:
        t = self.expect_kw("CASE")
        operand = None
        if not self.at_kw("WHEN"):
            operand = self.parse_value_expression()
        whens = []
        while self.accept_kw("WHEN"):
            cond = self.parse_expression()
            self.expect_kw("THEN")
            whens.append((cond, self.parse_expression()))
        if not whens:
            raise self.error_expecting(["'WHEN'"])
        default = None
        if self.accept_kw("ELSE"):
            default = self.parse_expression()
        self.expect_kw("END")
        return tree.Case(operand, whens, default, loc=self.loc(t))


def parse(text: str, type_resolver: Callable[[str], SqlType | None] | None = None) -> list[tree.Statement]:
    """Parse a request text into statements (each with its own source text)."""
    return Parser(text, type_resolver).parse_statements()


def parse_type(text: str) -> SqlType:
    p = Parser(text)
    t = p.parse_type()
    if p.tok.kind != "EOF":
        raise p.error_near()
    return t


def parse_expression(text: str) -> tree.Expr:
    p = Parser(text)
    e = p.parse_expression()
    if p.tok.kind != "EOF":
        raise p.error_near()
    return e


def parse_table_elements(text: str) -> list[tree.TableElement]:
    """Parse a logical schema string such as ``"`ID` INT KEY, NAME STRING"``."""
    p = Parser("(" + text + ")")
    elements = p.parse_table_elements()
    if p.tok.kind != "EOF":
        raise p.error_near()
    return elements
