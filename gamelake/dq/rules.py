"""Data-quality rules as data: one YAML file per table, conf/rules/<layer>.<table>.yaml.

A file holds a list of rules; each has a `name`, a `description`, an `action` and a `check`
(its kind) with the kind's parameters:

    rules:
      - name: points_in_range
        description: Points per activity are 0..100000 (the game caps a round).
        check: between
        column: points
        min: 0
        max: 100000
        action: drop

Kinds and where they run:
- row level (native Spark, one pass per micro-batch): not_null, in_set (values), between
  (min/max), regex (pattern), length (min/max), row (expr: a SQL boolean; null counts as
  passing, as in a SQL CHECK constraint). Values that are null pass every column rule but
  not_null, as in Great Expectations.
- batch level (Great Expectations suite): unique, row_count (min/max), freshness (column,
  max_lag_s; lag of the column's max to `relative_to`: now, or another column's max),
  mean / stddev / distinct_ratio (column, min/max).
- referential (native Spark anti-join, batch level): column, ref_table (layer.table),
  ref_column; values not among the reference table's keys are unexpected.

Actions: warn (keep and count), drop (row-level kinds, and unique: the row goes to
quarantine), fail (the batch is kept out of the next layer and the stage stops).

A unique rule that drops runs in the row pass instead of the suite: of the rows sharing a
value, the first (in the order the caller gives, Kafka order in silver) is kept and the others
are quarantined. That is how untrusted input that repeats a business key (two payloads, one
transaction id) is kept out without stopping the stream for everyone else.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from gamelake.errors import GamelakeError

ACTIONS = ("warn", "drop", "fail")
ROW_KINDS = ("not_null", "in_set", "between", "regex", "length", "row")
BATCH_KINDS = ("unique", "row_count", "freshness", "mean", "stddev", "distinct_ratio")
REFERENTIAL_KINDS = ("referential",)
KINDS = ROW_KINDS + BATCH_KINDS + REFERENTIAL_KINDS
# Parameters each kind takes (required ones first in the tuple; see _REQUIRED).
_PARAMS: dict[str, tuple[str, ...]] = {
    "not_null": ("column",),
    "in_set": ("column", "values"),
    "between": ("column", "min", "max"),
    "regex": ("column", "pattern"),
    "length": ("column", "min", "max"),
    "row": ("expr",),
    "unique": ("column",),
    "row_count": ("min", "max"),
    "freshness": ("column", "max_lag_s", "relative_to"),
    "mean": ("column", "min", "max"),
    "stddev": ("column", "min", "max"),
    "distinct_ratio": ("column", "min", "max"),
    "referential": ("column", "ref_table", "ref_column"),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "in_set": ("column", "values"),
    "regex": ("column", "pattern"),
    "row": ("expr",),
    "freshness": ("column", "max_lag_s"),
    "referential": ("column", "ref_table", "ref_column"),
}
_BOUNDED = ("between", "length", "row_count", "mean", "stddev", "distinct_ratio")
_COMMON = ("name", "description", "action", "check")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclasses.dataclass(frozen=True)
class Rule:
    """One rule of a table: what it checks (`kind` + params) and what a failure does."""

    table: str  # layer.table
    name: str
    description: str
    action: str
    kind: str
    column: str | None = None
    values: tuple[Any, ...] | None = None
    min: Any = None
    max: Any = None
    pattern: str | None = None
    expr: str | None = None
    max_lag_s: float | None = None
    relative_to: str | None = None  # a column; None: the time of the check
    ref_table: str | None = None
    ref_column: str | None = None

    @property
    def level(self) -> str:
        """row | batch | referential: which engine evaluates the rule."""
        if self.kind in ROW_KINDS or (self.kind == "unique" and self.action == "drop"):
            return "row"
        return "referential" if self.kind in REFERENTIAL_KINDS else "batch"

    @property
    def quarantine_name(self) -> str:
        """The rule's name among a quarantined row's failed rules (beside contract.*, parse.*)."""
        return f"dq.{self.name}"

    def threshold(self) -> str:
        """What the rule demands, for people (error messages, reports)."""
        k = self.kind
        if k == "not_null":
            return f"{self.column} not null"
        if k == "in_set":
            return f"{self.column} in {list(self.values or ())}"
        if k == "regex":
            return f"{self.column} matches {self.pattern}"
        if k == "row":
            return str(self.expr)
        if k == "unique":
            return f"{self.column} unique"
        if k == "freshness":
            anchor = f"max({self.relative_to})" if self.relative_to else "now"
            return f"{anchor} - max({self.column}) <= {self.max_lag_s:g} s"
        if k == "referential":
            return f"{self.column} in {self.ref_table}.{self.ref_column}"
        subject = {
            "between": self.column,
            "length": f"length({self.column})",
            "row_count": "row count",
            "mean": f"mean({self.column})",
            "stddev": f"stddev({self.column})",
            "distinct_ratio": f"distinct ratio of {self.column}",
        }[k]
        lo = "-inf" if self.min is None else self.min
        hi = "inf" if self.max is None else self.max
        return f"{subject} in [{lo}, {hi}]"


def _rule(table: str, raw: Any, where: str) -> Rule:
    if not isinstance(raw, Mapping):
        raise GamelakeError(f"{where}: a rule must be a mapping, got {raw!r}")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise GamelakeError(
            f"{where}: rule name {name!r} is not lower_snake_case", fix="name: points_in_range"
        )
    where = f"{where} rule {name!r}"
    kind, action = raw.get("check"), raw.get("action")
    if kind not in KINDS:
        raise GamelakeError(f"{where}: unknown check {kind!r}", fix=f"one of {', '.join(KINDS)}")
    if action not in ACTIONS:
        raise GamelakeError(
            f"{where}: unknown action {action!r}", fix=f"one of {', '.join(ACTIONS)}"
        )
    if action == "drop" and kind not in (*ROW_KINDS, "unique"):
        raise GamelakeError(
            f"{where}: only row-level checks and unique can drop rows ({kind} judges a whole "
            "batch)",
            fix="use action warn or fail",
        )
    if not str(raw.get("description") or "").strip():
        raise GamelakeError(f"{where}: no description", fix="say what the rule protects, for whom")
    allowed = set(_PARAMS[kind])
    unknown = set(raw) - allowed - set(_COMMON)
    if unknown:
        raise GamelakeError(
            f"{where}: {kind} takes no {sorted(unknown)}", fix=f"parameters: {sorted(allowed)}"
        )
    required = _REQUIRED.get(kind, ("column",) if "column" in allowed else ())
    missing = [p for p in required if raw.get(p) is None]
    if missing:
        raise GamelakeError(f"{where}: {kind} needs {missing}")
    if kind in _BOUNDED and raw.get("min") is None and raw.get("max") is None:
        raise GamelakeError(f"{where}: {kind} needs min, max or both")
    params = {p: raw.get(p) for p in allowed if raw.get(p) is not None}
    if "values" in params:
        params["values"] = tuple(params["values"])
    if kind == "regex":
        try:
            re.compile(params["pattern"])
        except re.error as exc:
            raise GamelakeError(f"{where}: bad pattern: {exc}") from exc
    if kind == "referential" and params["ref_table"].count(".") != 1:
        raise GamelakeError(f"{where}: ref_table must be layer.table")
    return Rule(table=table, name=name, description=raw["description"].strip(), action=action,
                kind=kind, **params)  # fmt: skip


def parse_rules(table: str, doc: Any, where: str = "") -> list[Rule]:
    """The rules of one table from a parsed rules document ({rules: [...]})."""
    where = where or table
    if not isinstance(doc, Mapping) or not isinstance(doc.get("rules"), list):
        raise GamelakeError(f"{where}: expected a mapping with a `rules:` list")
    rules = [_rule(table, raw, where) for raw in doc["rules"]]
    names = [r.name for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise GamelakeError(f"{where}: rule names used twice: {dupes}")
    return rules


def load_rules(rules_dir: Path) -> dict[str, list[Rule]]:
    """Every table's rules under `rules_dir`, keyed by layer.table (the file name's stem)."""
    if not rules_dir.is_dir():
        return {}
    tables = {}
    for path in sorted(rules_dir.glob("*.yaml")):
        table = path.stem
        if table.count(".") != 1:
            raise GamelakeError(
                f"{path}: a rules file is named <layer>.<table>.yaml", fix="e.g. silver.player.yaml"
            )
        tables[table] = parse_rules(table, yaml.safe_load(path.read_text()), str(path))
    return tables


def check_columns(rules: list[Rule] | tuple[Rule, ...], columns: list[str], what: str) -> None:
    """Raise a readable error when a rule names a column `what` does not have."""
    have = set(columns)
    for r in rules:
        for c in (r.column, r.relative_to):
            if c is not None and c not in have:
                raise GamelakeError(
                    f"rule {r.table}.{r.name} reads column {c!r}, which {what} lacks",
                    fix=f"use one of: {', '.join(sorted(have))}",
                )


def rules_for(rules: Mapping[str, list[Rule]], layer: str, table: str) -> list[Rule]:
    """One table's rules (none when it has no file)."""
    return list(rules.get(f"{layer}.{table}", ()))
