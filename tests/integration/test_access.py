"""What an analyst may see: no bronze, no quarantined raw values, PII masked, no secret anywhere.

Runs on the shared generated lake (`lake_run`), through Trino's file-based access control
(conf/trino/access.yaml), as the `analyst` user next to the pipeline's `etl` user.
"""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from trino.exceptions import TrinoUserError

from gamelake import trino_client
from tests.lake_text import lake_text

pytestmark = pytest.mark.integration

PASSWORD_IN_TEXT = re.compile(rb'"password"\s*:\s*"([^"]+)"')


@pytest.fixture(scope="module")
def analyst(lake_run):
    return trino_client.connect(lake_run.settings.trino, user="analyst", catalog=lake_run.catalog)


def rows(conn, sql):
    cur = conn.cursor()
    cur.execute(sql)
    return cur.fetchall()


def refused(conn, sql) -> str:
    """The access-denied message Trino answers `sql` with (fails the test if it runs)."""
    with pytest.raises(TrinoUserError) as caught:
        rows(conn, sql)
    assert "Access Denied" in caught.value.message, caught.value.message
    return caught.value.message


def test_analyst_is_refused_on_bronze(lake_run, analyst):
    assert rows(lake_run.conn, "select count(*) from bronze.events")[0][0] > 0  # etl reads it
    refused(analyst, "select count(*) from bronze.events")
    refused(analyst, "show tables from bronze")
    visible = {r[0] for r in rows(analyst, "show schemas")}
    assert "bronze" not in visible and {"silver", "ops"} <= visible


def test_analyst_reads_quarantine_reasons_but_not_raw_values(lake_run, analyst):
    reasons = rows(analyst, "select family, reason from ops.quarantine")
    assert reasons, "the generated data set has malformed records: quarantine is not empty"
    assert all(reason for _, reason in reasons)
    refused(analyst, "select raw_value from ops.quarantine")
    refused(analyst, "select * from ops.quarantine")
    # The pipeline's own user still sees the payloads (to replay or debug them).
    assert rows(lake_run.conn, "select count(raw_value) from ops.quarantine")[0][0] == len(reasons)


def test_analyst_reads_silver_gold_and_ops_but_writes_nothing(lake_run, analyst):
    tables = rows(
        analyst,
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('silver', 'gold', 'ops')",
    )
    assert {s for s, _ in tables} >= {"silver", "ops"}
    for schema, table in tables:
        if (schema, table) != ("ops", "quarantine"):
            rows(analyst, f'select count(*) from {schema}."{table}"')
    refused(analyst, "create table silver.analyst_scratch as select 1 as x")
    refused(analyst, "insert into silver.player (player_id) values (1)")
    refused(analyst, f"drop table {lake_run.catalog}.silver.player")
    refused(
        analyst,
        "create catalog analyst_scratch using delta_lake with (\"hive.metastore\" = 'file')",
    )


def _sent(lake_run, family: str) -> list[dict]:
    """Every generated event of one family whose payload starts with a JSON object, as sent.

    Malformed records count too: a trailing-garbage record may still parse in silver.
    """
    decoder = json.JSONDecoder()
    events = []
    for r in lake_run.records:
        if r.family != family:
            continue
        try:
            event, _ = decoder.raw_decode(r.value.decode("utf-8", errors="replace"))
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def test_silver_masks_ip_to_24_and_hashes_names(lake_run, analyst):
    sent: dict[object, list[dict]] = {}
    for p in _sent(lake_run, "player"):
        sent.setdefault(p.get("player_id"), []).append(p)
    seen = rows(analyst, "select player_id, player_name, ip from silver.player")
    assert seen
    for player_id, name, ip in seen:
        assert re.fullmatch(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.0/24", ip), ip
        shown = {
            (
                f"{p['ip'].rsplit('.', 1)[0]}.0/24",
                hashlib.sha256(p["player_name"].encode()).hexdigest(),
            )
            for p in sent[player_id]
            if isinstance(p.get("ip"), str) and isinstance(p.get("player_name"), str)
        }
        assert (ip, name) in shown
    raw_names = {p["player_name"] for ps in sent.values() for p in ps if p.get("player_name")}
    assert not {name for _, name, _ in seen} & raw_names

    user_names = {e["user_name"] for e in _sent(lake_run, "game_api") if e.get("user_name")}
    landed = {r[0] for r in rows(analyst, "select distinct user_name from silver.game_api")}
    assert user_names and landed - {None}
    assert landed - {None} <= {hashlib.sha256(str(n).encode()).hexdigest() for n in user_names}


def test_no_generated_password_lands_anywhere_in_the_lake(lake_run):
    passwords = set()
    for r in lake_run.records:
        if r.family == "game_api":
            passwords.update(m.group(1) for m in PASSWORD_IN_TEXT.finditer(r.value))
    assert len(passwords) > 10, "the generator sends passwords with register/login calls"

    files = [
        p for root in (lake_run.lake, lake_run.checkpoints) for p in root.rglob("*") if p.is_file()
    ]
    text = lake_text(files)
    # The scan sees decoded column values: a non-secret field of the same events is found.
    user_ids = {
        e["user_id"] for e in _sent(lake_run, "game_api") if isinstance(e.get("user_id"), str)
    }
    assert any(u.encode() in text for u in user_ids)
    leaked = sorted(p for p in passwords if p in text)
    assert not leaked, f"{len(leaked)} passwords found in the lake, e.g. {leaked[:3]}"
