"""Every sql/queries question, answered by Trino over the shared generated lake, equals the
independent answer tests/oracle.py computes from the generated records alone."""

from __future__ import annotations

import pytest

from gamelake import trino_client
from gamelake.config import project_root
from gamelake.queries import list_queries
from tests.oracle import ORACLES, World, differences

pytestmark = pytest.mark.integration

QUERIES = list_queries(project_root() / "sql")


@pytest.fixture(scope="module")
def world(lake_run):
    return World(lake_run.records, lake_run.contracts)


def test_there_are_questions_for_every_seed():
    domains = {q.domain for q in QUERIES}
    assert {"rooms", "combat", "engagement", "economy", "servers", "player_state",
            "leaderboards", "classic"} <= domains  # fmt: skip


@pytest.mark.parametrize("query", QUERIES, ids=[q.name for q in QUERIES])
def test_query_matches_the_oracle(lake_run, world, query):
    assert query.name in ORACLES, f"no oracle for {query.name}: add one to tests/oracle.py"
    assert query.question, f"{query.path} does not open with '-- Question: ...'"
    result = trino_client.run(lake_run.conn, query.sql)
    expected = ORACLES[query.name](world)
    problems = differences(expected, result.columns, result.rows)
    assert not problems, f"{query.name}:\n" + "\n".join(problems)


def test_registering_twice_is_harmless(lake_run):
    from gamelake.conventions import load_pipeline_conf

    layers = load_pipeline_conf(lake_run.settings.paths.conf).layers
    admin = trino_client.connect(lake_run.settings.trino)
    again = trino_client.register_lake_at(admin, lake_run.catalog, lake_run.lake, layers)
    assert again == []  # every table was registered already; views are replaced in place
    views = trino_client.run(
        lake_run.conn,
        "select table_name from information_schema.views where table_schema = 'gold'",
    ).rows
    assert {"team_score_hourly", "user_score_totals"} <= {v[0] for v in views}
