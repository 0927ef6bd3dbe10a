"""Who may log in to Trino, and what an analyst may see: no bronze, no quarantined raw values,
PII masked, no secret anywhere.

Logins run against the profile's Trino (HTTPS, generated passwords). The rest runs on the
shared generated lake (`lake_run`), through Trino's file-based access control
(conf/trino/access.yaml), as the `analyst` user next to the pipeline's `etl` user, each with
its own password.
"""

from __future__ import annotations

import hashlib
import json
import re

import pytest
import requests
import trino
from trino.exceptions import HttpError, TrinoUserError

from gamelake import trino_client
from gamelake.runtime import trino_auth
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


def _as(t, user: str, password: str | None):
    """A connection to the profile's Trino over its TLS as `user`, with `password` (or none)."""
    auth = trino.auth.BasicAuthentication(user, password) if password is not None else None
    session = trino_auth.tls_session(trino_auth.cert_file(t.auth_dir))
    return trino.dbapi.connect(host=t.host, port=t.port, user=user, http_scheme="https",
                               auth=auth, http_session=session, catalog=t.catalog)  # fmt: skip


def _statement(url: str, user: str, **kwargs) -> requests.Response | None:
    """POST `select 1` to Trino's statement API claiming `user`; None if the server hangs up."""
    try:
        return requests.post(f"{url}/v1/statement", data="select 1", timeout=10,
                             headers={"X-Trino-User": user}, **kwargs)  # fmt: skip
    except requests.ConnectionError:
        return None


def test_etl_logs_in_with_its_generated_password(services):
    t = services.trino
    password = trino_auth.read_password(t.auth_dir, "etl")
    assert rows(_as(t, "etl", password), "select current_user") == [["etl"]]
    assert rows(trino_client.connect(t), "select current_user") == [["etl"]]


@pytest.mark.parametrize("password", ["wrong", "", None], ids=["wrong", "empty", "none"])
def test_etl_without_its_password_is_refused(services, password):
    with pytest.raises(HttpError, match="401"):
        rows(_as(services.trino, "etl", password), "select 1")


def test_analyst_password_does_not_open_etl(services):
    t = services.trino
    analyst_password = trino_auth.read_password(t.auth_dir, "analyst")
    with pytest.raises(HttpError, match="401"):
        rows(_as(t, "etl", analyst_password), "select 1")
    # Logged in as analyst, claiming etl in the header: Trino refuses the impersonation.
    session = trino_auth.tls_session(trino_auth.cert_file(t.auth_dir))
    answer = session.post(f"{t.url}/v1/statement", data="select 1", timeout=10,
                          headers={"X-Trino-User": "etl"}, auth=("analyst", analyst_password))  # fmt: skip
    state = answer.json() if answer.status_code == 200 else {}
    while "nextUri" in state and "error" not in state:
        state = session.get(state["nextUri"], timeout=10, auth=("analyst", analyst_password)).json()
    assert answer.status_code != 200 or "cannot impersonate" in state["error"]["message"], state


def test_anonymous_clients_are_refused(services):
    t = services.trino
    cert = str(trino_auth.cert_file(t.auth_dir))
    # Plain HTTP on Trino's port: no HTTP listener at all, the TLS server hangs up.
    plain = _statement(f"http://{t.host}:{t.port}", "etl")
    assert plain is None or plain.status_code in (400, 401, 403), plain.text
    # HTTPS without credentials, the user name only claimed in the header.
    anonymous = _statement(t.url, "etl", verify=cert)
    assert anonymous is not None and anonymous.status_code == 401
    # A client that does not know the generated certificate does not talk to this server.
    with pytest.raises(requests.exceptions.SSLError):
        requests.Session().get(f"{t.url}/v1/info", timeout=10, verify=True)


def test_analyst_is_refused_on_bronze(lake_run, analyst):
    assert rows(lake_run.conn, "select count(*) from bronze.events")[0][0] > 0  # etl reads it
    assert rows(analyst, "select current_user") == [["analyst"]]  # logged in by password
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
