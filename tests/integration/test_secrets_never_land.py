"""Secrets under names no contract declares never land: not in the lake's files, its
checkpoints, the job's log, the state folder's logs and reports, nor any Trino answer.

The shared `lake_run` carries them: generated events with secrets added at varied depths and
the hand-written corpus (tests/data/secrets_corpus.txt: nested, in arrays, in unknown
families, in records that are not JSON), all sent to Kafka as a game server would, unmasked.
"""

from __future__ import annotations

import pytest

from gamelake import trino_client
from tests.lake_text import lake_text
from tests.secret_corpus import SECRET_MARK

pytestmark = pytest.mark.integration

MARK = SECRET_MARK.encode()


def test_the_corpus_really_carries_secrets(lake_run):
    carriers = [r for r in lake_run.records if MARK in r.value]
    assert len(carriers) > 500
    assert {r.family for r in carriers} > {"game_api", "telemetry", "chat_message"}


def test_no_secret_value_is_in_any_file(lake_run):
    state = lake_run.settings.paths.state
    roots = [lake_run.area, state / "logs", state / "reports"]
    files = [p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()]
    assert any(p.name == "pipeline.log" for p in files)
    text = lake_text(files)
    assert MARK not in text
    # The scan sees decoded Parquet values: the masks themselves are found.
    assert b"[REDACTED]" in text


def test_secrets_land_masked_in_rescued_data_and_quarantine(lake_run):
    """The records were not dropped to hide their secrets: they land, their values masked."""
    rescued = trino_client.run(
        lake_run.conn,
        "select count(*) from silver.telemetry where _rescued_data like '%[REDACTED]%'",
    ).rows[0][0]
    quarantined = trino_client.run(
        lake_run.conn,
        "select count(*) from ops.quarantine where from_utf8(raw_value) like '%[REDACTED]%'",
    ).rows[0][0]
    assert rescued > 0 and quarantined >= 10


def test_no_trino_answer_holds_a_secret(lake_run):
    tables = trino_client.run(
        lake_run.conn,
        "select table_schema, table_name from information_schema.tables"
        " where table_schema in ('bronze', 'silver', 'gold', 'ops') and table_type = 'BASE TABLE'",
    ).rows
    assert len(tables) > 10
    for schema, table in tables:
        rows = trino_client.run(lake_run.conn, f'select * from {schema}."{table}"').rows
        assert SECRET_MARK not in repr(rows), f"{schema}.{table}"
