"""Generated "evaluate with error capture", written once for every operator.

Each query path (per-record, columnar, join, aggregation) generates code that evaluates
an expression into a local variable; if the evaluation raises, the record gets a
processing-log entry and the variable a fallback (NULL, or false for WHERE), as
ksqlDB's `CompiledExpression.evaluate` does. The messages are ksqlDB's wordings for each
place an expression is evaluated, so the processing log reads like ksqlDB's.
"""

from __future__ import annotations

from typing import Any, Callable

#: ksqlDB's messages (SelectValueMapper, SqlPredicate, GroupByParamsFactory,
#: PartitionByParamsFactory, KsqlKeyExtractor, TableFunctionApplier)
SELECT = "Error computing expression {expr}"
WHERE = "Error evaluating predicate {expr}"
GROUP_BY = "Error calculating group-by column with index {index}."
NEW_KEY = "Error computing new key from expression {expr}"
JOIN_KEY = "Error calculating left join expression: `{expr}`."
TABLE_FUNCTION_PARAMETER = "Failed to evaluate table function parameter {index}"


def emit_evaluation(
    add: Callable[[str], None],
    indent: str,
    target: str,
    code: str,
    message: str,
    ns: dict[str, Any],
    *,
    fallback: str = "None",
    stage: str = "evaluate",
    record: str | None = "rec",
) -> None:
    """`target = code`; if it raises, log `message: reason` for `record` and use
    `fallback`. The generated code needs `errs` and `_reason` in scope; with
    `record=None` (code that runs outside the record loop) `errs` collects the bare
    message."""
    const = f"_em{sum(1 for k in ns if k.startswith('_em'))}"
    ns[const] = message + ": "
    entry = f"({stage!r}, {const} + _reason(e), {record})" if record else f"{const} + _reason(e)"
    add(f"{indent}try:")
    add(f"{indent}    {target} = {code}")
    add(f"{indent}except Exception as e:")
    add(f"{indent}    errs.append({entry})")
    add(f"{indent}    {target} = {fallback}")


def emit_nested_errors(add: Callable[[str], None], indent: str, record: str | None = "rec") -> None:
    """Log the errors of the sub-expressions that ksqlDB evaluates "or return null"
    (collected in `_ue` while the record's expressions ran)."""
    add(f"{indent}if _ue:")
    add(f"{indent}    errs.extend(('evaluate', m, {record}) for m in _ue)" if record else f"{indent}    errs.extend(_ue)")
    add(f"{indent}    _ue.clear()")
