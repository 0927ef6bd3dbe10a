"""Trino's access rules derived from conf/trino/access.yaml."""

from __future__ import annotations

import json
import re

import pytest

from gamelake.errors import GamelakeError
from gamelake.runtime.trino import access_control_files, access_rules, load_access


def _first_table_rule(rules, user, schema, table):
    """The table rule Trino would apply (first match; patterns match the whole name)."""
    for r in rules["tables"]:
        if r["user"] == user and all(
            re.fullmatch(r.get(k, ".*"), v) for k, v in (("schema", schema), ("table", table))
        ):
            return r
    return None


def test_project_rules_give_analyst_layers_but_not_bronze_nor_raw_values(root):
    rules = access_rules(load_access(root / "conf"))
    assert _first_table_rule(rules, "analyst", "bronze", "events") is None
    assert _first_table_rule(rules, "analyst", "gold", "player_kd")["privileges"] == ["SELECT"]
    quarantine = _first_table_rule(rules, "analyst", "ops", "quarantine")
    assert {"name": "raw_value", "allow": False} in quarantine["columns"]
    assert "OWNERSHIP" in _first_table_rule(rules, "etl", "bronze", "events")["privileges"]
    # Never tied to a catalog name: every test lake is a catalog of its own.
    assert all("catalog" not in r for section in rules.values() for r in section)
    assert {"user": "etl", "allow": "owner"} in rules["catalogs"]


def test_files_point_trino_at_the_generated_rules(tmp_path, root):
    files = access_control_files(tmp_path, load_access(root / "conf"))
    props = dict(line.split("=", 1) for line in files["access-control.properties"].split())
    assert props["access-control.name"] == "file"
    assert props["security.config-file"] == str(tmp_path / "rules.json")
    assert json.loads(files["rules.json"])["catalogs"]


def test_unknown_role_is_refused():
    with pytest.raises(GamelakeError, match="role"):
        access_rules({"users": {"bob": {"role": "superuser"}}})
