"""Rule files: parsing, validation errors people can act on, and the repository's own rules."""

from __future__ import annotations

import re

import pytest
import yaml

from gamelake.dq.rules import KINDS, load_rules, parse_rules
from gamelake.errors import GamelakeError


def one(**raw):
    base = {"name": "r", "description": "why", "action": "warn"}
    return parse_rules("silver.t", {"rules": [{**base, **raw}]})[0]


def test_every_kind_parses_with_its_parameters():
    rules = parse_rules(
        "silver.t",
        yaml.safe_load(
            """
rules:
  - {name: a, description: d, action: fail, check: not_null, column: x}
  - {name: b, description: d, action: drop, check: in_set, column: x, values: [1, 2]}
  - {name: c, description: d, action: drop, check: between, column: x, min: 0}
  - {name: d, description: d, action: warn, check: regex, column: s, pattern: '^a'}
  - {name: e, description: d, action: drop, check: length, column: s, max: 3}
  - {name: f, description: d, action: drop, check: row, expr: 'x < y'}
  - {name: g, description: d, action: fail, check: unique, column: x}
  - {name: h, description: d, action: fail, check: row_count, min: 1, max: 10}
  - {name: i, description: d, action: warn, check: freshness, column: ts, max_lag_s: 60}
  - {name: j, description: d, action: warn, check: mean, column: x, min: 0, max: 5}
  - {name: k, description: d, action: warn, check: stddev, column: x, max: 5}
  - {name: l, description: d, action: warn, check: distinct_ratio, column: x, min: 0.5}
  - {name: m, description: d, action: warn, check: referential, column: x,
     ref_table: silver.rooms, ref_column: room_id}
"""
        ),
    )
    assert {r.kind for r in rules} == set(KINDS)
    assert [r.level for r in rules][:6] == ["row"] * 6
    assert rules[-1].level == "referential"
    assert rules[1].values == (1, 2)
    assert rules[7].threshold() == "row count in [1, 10]"
    assert rules[8].threshold() == "now - max(ts) <= 60 s"
    assert rules[0].quarantine_name == "dq.a"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"check": "row_count", "min": 1, "action": "drop"}, "only row-level checks and unique"),
        ({"check": "nope", "column": "x"}, "unknown check"),
        ({"check": "not_null", "column": "x", "action": "stop"}, "unknown action"),
        ({"check": "between", "column": "x"}, "needs min, max or both"),
        ({"check": "in_set", "column": "x"}, "needs ['values']"),
        ({"check": "not_null", "column": "x", "values": [1]}, "takes no ['values']"),
        ({"check": "regex", "column": "x", "pattern": "("}, "bad pattern"),
        ({"check": "not_null", "column": "x", "description": " "}, "no description"),
        (
            {"check": "referential", "column": "x", "ref_table": "t", "ref_column": "k"},
            "layer.table",
        ),
        ({"check": "not_null", "column": "x", "name": "Bad Name"}, "lower_snake_case"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(raw, message):
    with pytest.raises(GamelakeError, match=re.escape(message)):
        one(**raw)


def test_duplicate_names_are_refused():
    rule = {"name": "a", "description": "d", "action": "warn", "check": "not_null", "column": "x"}
    with pytest.raises(GamelakeError, match="used twice"):
        parse_rules("silver.t", {"rules": [rule, rule]})


def test_file_names_say_layer_and_table(tmp_path):
    (tmp_path / "silver.t.yaml").write_text(
        "rules: [{name: a, description: d, action: warn, check: not_null, column: x}]"
    )
    assert list(load_rules(tmp_path)) == ["silver.t"]
    (tmp_path / "t.yaml").write_text("rules: []")
    with pytest.raises(GamelakeError, match=r"<layer>\.<table>"):
        load_rules(tmp_path)


def test_the_repository_rules_load_and_name_real_silver_columns(root, spark):
    from gamelake.contracts import load_contracts
    from gamelake.silver import silver_columns

    rules = load_rules(root / "conf" / "rules")
    assert rules, "conf/rules holds the tables' rules"
    contracts = load_contracts(root / "conf" / "contracts")
    for table, table_rules in rules.items():
        layer, name = table.split(".")
        if layer != "silver" or name not in contracts:
            continue
        columns = set(silver_columns(contracts[name]))
        for r in table_rules:
            for c in (r.column, r.relative_to):
                assert c is None or c in columns, f"{table}.{r.name}: no column {c}"


def test_the_gold_rules_name_real_gold_columns(root, spark):
    """Gold rule files are checked against the columns the gold builders really produce."""
    from gamelake.contracts import load_contracts
    from gamelake.gold.batch import BUILDERS
    from gamelake.silver import parse_family, to_children, to_silver
    from tests.unit.test_silver import bronze

    contracts = load_contracts(root / "conf" / "contracts")
    silver = {}
    for family, contract in contracts.items():
        parsed = parse_family(bronze(spark, family, []), contract)
        silver[family] = to_silver(parsed, contract)
        silver.update(to_children(parsed, contract))
    rules = load_rules(root / "conf" / "rules")
    gold = {t.split(".")[1]: rs for t, rs in rules.items() if t.startswith("gold.")}
    assert gold, "gold tables have rules"
    for table, table_rules in gold.items():
        builder = BUILDERS[table]
        columns = set(builder.build({t: silver[t] for t in builder.inputs}).columns)
        for r in table_rules:
            assert r.column is None or r.column in columns, f"gold.{table}.{r.name}: {r.column}"


def test_a_dropping_unique_rule_runs_in_the_row_pass_and_the_others_in_the_suite():
    def level(action):
        raw = {"name": "u", "description": "d", "action": action, "check": "unique", "column": "x"}
        return parse_rules("silver.t", {"rules": [raw]})[0].level

    assert level("drop") == "row"
    assert level("warn") == level("fail") == "batch"
