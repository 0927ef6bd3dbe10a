"""The question files: every one states its question, follows the SQL conventions, and loads
by name."""

from __future__ import annotations

import re

import pytest

from gamelake.errors import GamelakeError
from gamelake.queries import (
    list_queries,
    list_views,
    load_query,
    question_of,
    read_query_file,
    statement,
    view_ddl,
)


@pytest.fixture(scope="module")
def sql_dir(root):
    return root / "sql"


def test_every_question_file_follows_the_conventions(sql_dir):
    queries = list_queries(sql_dir)
    assert len(queries) >= 30
    for q in queries:
        assert q.path.read_text().startswith("-- Question: "), q.name
        assert q.question, q.name
        body = q.sql.lower()
        assert re.search(r"select \* from final(\s+order by [^;]*)?$", body), q.name
        # Schema-qualified, catalog-free names: the connection's catalog decides the lake.
        for ref in re.findall(r"\b(?:from|join)\s+([a-z_][\w.]*)", body):
            if "." in ref:
                assert ref.count(".") == 1, f"{q.name}: {ref} names a catalog"
                assert ref.split(".")[0] in ("bronze", "silver", "gold", "ops"), (q.name, ref)


def test_load_query_by_full_or_short_name(sql_dir):
    full = load_query(sql_dir, "combat/kd_ratio_per_player_5m")
    assert full.domain == "combat"
    assert load_query(sql_dir, "kd_ratio_per_player_5m") == full
    assert load_query(sql_dir, "combat/kd_ratio_per_player_5m.sql") == full


def test_load_query_explains_unknown_names(sql_dir):
    with pytest.raises(GamelakeError, match="no question"):
        load_query(sql_dir, "nope/nothing")


def test_load_query_refuses_ambiguous_short_names(tmp_path):
    for domain in ("a", "b"):
        (tmp_path / "queries" / domain).mkdir(parents=True)
        (tmp_path / "queries" / domain / "same.sql").write_text("-- Question: x?\nselect 1\n")
    with pytest.raises(GamelakeError, match="several"):
        load_query(tmp_path, "same")
    assert load_query(tmp_path, "b/same").name == "b/same"


def test_question_text_joins_continuation_lines():
    sql = "-- Question: How many\n-- players?\nwith a as (select 1)\nselect * from a\n"
    assert question_of(sql) == "How many players?"
    assert question_of("select 1") == ""


def test_statement_drops_a_trailing_semicolon():
    assert statement("select 1;\n") == "select 1"


def test_read_query_file(tmp_path):
    f = tmp_path / "mine.sql"
    f.write_text("-- Question: one?\nselect 1;\n")
    q = read_query_file(f)
    assert (q.name, q.question, q.sql) == ("mine", "one?", "-- Question: one?\nselect 1")
    with pytest.raises(GamelakeError):
        read_query_file(tmp_path / "missing.sql")


def test_views_become_create_or_replace_in_the_catalog(sql_dir):
    views = {(v.schema, v.name): v for v in list_views(sql_dir)}
    assert ("gold", "user_score_totals") in views
    ddl = view_ddl(views[("gold", "user_score_totals")], "cat")
    assert ddl.startswith("create or replace view cat.gold.user_score_totals as\n")
