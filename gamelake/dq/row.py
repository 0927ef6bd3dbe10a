"""Row-level rules compiled to Spark Column expressions, evaluated in one pass.

`apply_row_rules` adds four array columns naming the rules each row fails, by action;
`row_rule_counts` turns them into per-rule counts with one aggregation. Nothing here
runs a Spark job per rule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from gamelake.columns import values_where
from gamelake.dq.rules import Rule

DROP_RULES = "_dq_drop_rules"
DROP_REASONS = "_dq_drop_reasons"
WARN_RULES = "_dq_warn_rules"
FAIL_RULES = "_dq_fail_rules"
FLAG_COLUMNS = (DROP_RULES, DROP_REASONS, WARN_RULES, FAIL_RULES)


def _shown(col: Column) -> Column:
    return F.coalesce(F.substring(col.cast("string"), 1, 80), F.lit("null"))


def violation(rule: Rule, order: Sequence[Column] = ()) -> tuple[Column, Column]:
    """(true when a row breaks the rule, why, for people) of a row-level rule.

    Nulls pass every check but not_null, and a row expression that is null passes (as a
    SQL CHECK constraint does): a missing value is not_null's business. A dropping unique
    rule breaks on every row of a value but the first in `order` (the value itself when
    none is given: then which one is kept is arbitrary).
    """
    k = rule.kind
    if k == "unique":
        value = F.col(str(rule.column))
        rank = F.row_number().over(Window.partitionBy(value).orderBy(*(order or [value])))
        shown = F.concat(F.lit(f"{rule.name}: {rule.column} = "), _shown(value))
        message = F.concat(shown, F.lit(" again: an earlier row of the batch has it"))
        return value.isNotNull() & (rank > 1), message
    if k == "row":
        ok = F.expr(str(rule.expr))
        return F.coalesce(~ok, F.lit(False)), F.lit(f"{rule.name}: not ({rule.expr})")
    value = F.col(str(rule.column))
    if k == "not_null":
        return value.isNull(), F.lit(f"{rule.name}: {rule.column} is null")
    if k == "in_set":
        bad = ~value.isin(list(rule.values or ()))
    elif k == "regex":
        bad = ~value.cast("string").rlike(str(rule.pattern))
    elif k in ("between", "length"):
        measured = value if k == "between" else F.length(value.cast("string"))
        lo = measured < F.lit(rule.min) if rule.min is not None else F.lit(False)
        hi = measured > F.lit(rule.max) if rule.max is not None else F.lit(False)
        bad = lo | hi
    else:
        raise ValueError(f"{rule.kind} is not a row-level check")
    shown = F.concat(F.lit(f"{rule.name}: {rule.column} = "), _shown(value))
    message = F.concat(shown, F.lit(f" breaks {rule.threshold()}"))
    return value.isNotNull() & F.coalesce(bad, F.lit(False)), message


def _names(rules: Sequence[Rule], parts: dict[str, tuple[Column, Column]]) -> Column:
    return values_where([(parts[r.name][0], F.lit(r.quarantine_name)) for r in rules])


def apply_row_rules(
    df: DataFrame, rules: Sequence[Rule], order: Sequence[Column] = ()
) -> DataFrame:
    """`df` plus the names of the row-level rules each row fails, by action, in one projection.

    _dq_drop_rules / _dq_drop_reasons: failed drop rules (the row belongs in quarantine) and
    why; _dq_warn_rules: failed warn rules (the row is kept); _dq_fail_rules: failed fail
    rules (the batch must stop). Batch-level rules are ignored here. `order` says which row
    of a repeated value a dropping unique rule keeps: the first.
    """
    return df.withColumns(row_rule_flags(rules, order))


def row_rule_flags(rules: Sequence[Rule], order: Sequence[Column] = ()) -> dict[str, Column]:
    """The four flag columns of `apply_row_rules`, by name (to add in one projection)."""
    row_rules = [r for r in rules if r.level == "row"]
    parts = {r.name: violation(r, order) for r in row_rules}
    by_action = {a: [r for r in row_rules if r.action == a] for a in ("drop", "warn", "fail")}
    drops = by_action["drop"]
    reasons = values_where([parts[r.name] for r in drops])
    return {
        DROP_RULES: _names(drops, parts),
        DROP_REASONS: reasons,
        WARN_RULES: _names(by_action["warn"], parts),
        FAIL_RULES: _names(by_action["fail"], parts),
    }


def passing_rows(flagged: DataFrame) -> DataFrame:
    """The rows of `apply_row_rules` output no drop rule rejects, without the flag columns."""
    return flagged.where(F.size(DROP_RULES) == 0).drop(*FLAG_COLUMNS)


def dropped_rows(flagged: DataFrame) -> DataFrame:
    """The rows of `apply_row_rules` output some drop rule rejects (flag columns kept)."""
    return flagged.where(F.size(DROP_RULES) > 0)


def _column_of(action: str) -> str:
    return {"drop": DROP_RULES, "warn": WARN_RULES, "fail": FAIL_RULES}[action]


def row_rule_columns(rules: Sequence[Rule], columns: Sequence[str]) -> set[str]:
    """The `columns` the row-level rules read: their column, or a name in their expression
    (a word match: a name mentioned in a string literal is read needlessly, never missed)."""
    read: set[str] = set()
    for r in (r for r in rules if r.level == "row"):
        if r.column:
            read.add(r.column)
        if r.expr:
            read.update(c for c in columns if re.search(rf"\b{re.escape(c)}\b", r.expr))
    return read


def row_rule_aggs(rules: Sequence[Rule], where: Column | None = None) -> list[Column]:
    """Aggregations counting the rows evaluated and the rows failing each row-level rule of
    `apply_row_rules` output, to run in any aggregation job (`row_rule_values` reads them).

    `where` limits the rows that count as evaluated (e.g. those that passed their contract).
    """
    row_rules = [r for r in rules if r.level == "row"]
    evaluated = F.lit(True) if where is None else F.coalesce(where, F.lit(False))
    aggs = [F.sum(evaluated.cast("long")).alias("_dq_n")]
    aggs += [
        F.sum(
            (evaluated & F.array_contains(_column_of(r.action), r.quarantine_name)).cast("long")
        ).alias(f"_dq_r{i}")
        for i, r in enumerate(row_rules)
    ]
    return aggs


def row_rule_values(row, rules: Sequence[Rule]) -> tuple[int, dict[str, int]]:
    """(rows evaluated, rows failing each row-level rule) from a row of `row_rule_aggs`."""
    row_rules = [r for r in rules if r.level == "row"]
    return int(row["_dq_n"] or 0), {
        r.name: int(row[f"_dq_r{i}"] or 0) for i, r in enumerate(row_rules)
    }


def row_rule_counts(
    flagged: DataFrame, rules: Sequence[Rule], where: Column | None = None
) -> tuple[int, dict[str, int]]:
    """(rows evaluated, rows failing each row-level rule) of `apply_row_rules` output, in one job.

    `where` limits the rows that count as evaluated (e.g. those that passed their contract).
    """
    return row_rule_values(flagged.agg(*row_rule_aggs(rules, where)).collect()[0], rules)
