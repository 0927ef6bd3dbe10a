"""The collector's HTTP contract, on an in-memory sink: routing, envelopes, rejects, secrets."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import jsonschema
import pytest
from fastapi.testclient import TestClient

from gamelake.collector.app import create_app
from gamelake.collector.ingest import Collector
from gamelake.config import project_root
from gamelake.contracts import load_contracts
from gamelake.conventions import load_pipeline_conf
from gamelake.errors import GamelakeError
from gamelake.keys import KeyRing
from tests.collector_samples import EVENTS, KEYS, SECRET, MemorySink, event, key_ring

NOW = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
REJECTS = load_pipeline_conf(project_root() / "conf").rejects_topic


def topic(family: str) -> str:
    return f"gamelake.{family}"


@pytest.fixture(scope="module")
def contracts():
    return load_contracts(project_root() / "conf" / "contracts")


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink()


@pytest.fixture
def auth(tmp_path) -> tuple[KeyRing, dict[str, str]]:
    return key_ring(tmp_path)


def keyed_client(contracts, sink, auth, **options) -> TestClient:
    """A client sending a valid key to a collector over the sink."""
    ring, headers = auth
    return TestClient(
        create_app(contracts, sink, topic, REJECTS, keys=ring, **options), headers=headers
    )


@pytest.fixture
def client(contracts, sink, auth) -> TestClient:
    return keyed_client(
        contracts, sink, auth, max_body_bytes=64_000, max_events=50, clock=lambda: NOW
    )


def test_a_single_valid_event_is_accepted_and_lands_in_its_family_topic(client, sink):
    response = client.post("/v1/events", json=event("telemetry"))
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "rejected": 0}
    assert [(t, k) for t, k, _ in sink.records] == [("gamelake.telemetry", b"A01")]
    assert sink.flushes == 1


def test_a_batch_of_every_family_is_routed_and_keyed_by_the_contract_key(client, sink, contracts):
    batch = [event(f) for f in EVENTS]
    response = client.post("/v1/events", json=batch)
    assert response.status_code == 202, response.json()
    assert response.json() == {"accepted": len(EVENTS), "rejected": 0}
    assert [(t, k) for t, k, _ in sink.records] == [(topic(f), KEYS[f]) for f in EVENTS]
    # One flush per request, not per event: the answer waits for all acknowledgements at once.
    assert sink.flushes == 1
    for (_, _, value), family in zip(sink.records, EVENTS, strict=True):
        jsonschema.validate(json.loads(value), contracts[family].json_schema())


def test_envelope_fields_are_added_and_the_clients_own_are_kept(client, sink):
    client.post(
        "/v1/events",
        json=[event("user_score"), event("user_score", event_id="mine-1", source="game-server-7")],
    )
    first, second = sink.values(topic("user_score"))
    assert re.fullmatch(r"[0-9a-f]{32}", first["event_id"])
    assert first["source"] == "collector"
    assert first["schema_version"] == 1
    assert first["family"] == "user_score"
    assert first["received_at"] == "2026-03-04T05:06:07.890123Z"
    assert (second["event_id"], second["source"]) == ("mine-1", "game-server-7")
    assert first["event_id"] != second["event_id"]


def test_the_route_family_applies_to_events_that_name_none(client, sink):
    bare = {k: v for k, v in event("telemetry").items() if k != "family"}
    response = client.post("/v1/events/telemetry", json=[bare, event("user_score")])
    assert response.status_code == 202
    assert [t for t, _, _ in sink.records] == [topic("telemetry"), topic("user_score")]


def test_an_invalid_batch_gets_400_with_errors_per_event(client, sink):
    bad_action = event("player_action")
    del bad_action["parameters"]["player_id"]
    batch = [
        event("telemetry", event_type="kil", timestamp="soon"),
        bad_action,
        {**event("user_score"), "family": "leaderboard"},
        {"player_id": "A01"},
        ["not", "an", "object"],
    ]
    response = client.post("/v1/events", json=batch)
    assert response.status_code == 400
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (0, 5)
    errors = {e["index"]: e for e in body["errors"]}
    assert errors[0]["family"] == "telemetry"
    assert {e["path"] for e in errors[0]["errors"]} == {"event_type", "timestamp"}
    assert errors[1]["errors"] == [
        {"path": "parameters.player_id", "message": "'player_id' is a required property"}
    ]
    assert errors[2]["family"] == "leaderboard" and errors[2]["errors"][0]["path"] == "family"
    assert "unknown family 'leaderboard'" in errors[2]["errors"][0]["message"]
    assert errors[3]["family"] is None and "missing family" in errors[3]["errors"][0]["message"]
    assert errors[4]["errors"] == [{"path": "", "message": "an event must be a JSON object"}]
    # Nothing reached a family topic; every rejected event is in the rejects topic with its errors.
    rejects = sink.values(REJECTS)
    assert [t for t, _, _ in sink.records] == [REJECTS] * 5
    assert [r["index"] for r in rejects] == [0, 1, 2, 3, 4]
    assert [r["reason"] for r in rejects] == [
        "contract_violation",
        "contract_violation",
        "unknown_family",
        "unknown_family",
        "not_an_object",
    ]
    assert rejects[0]["event"]["event_type"] == "kil"
    assert rejects[0]["errors"] == errors[0]["errors"]


def test_a_mixed_batch_accepts_the_valid_events_and_reports_the_invalid_ones(client, sink):
    batch = [
        event("telemetry"),
        event("telemetry", points=1, event_type="dance"),
        event("user_score"),
    ]
    response = client.post("/v1/events", json=batch)
    assert response.status_code == 400
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 1)
    assert [e["index"] for e in body["errors"]] == [1]
    assert [t for t, _, _ in sink.records if t != REJECTS] == [
        topic("telemetry"),
        topic("user_score"),
    ]
    assert [r["event"]["event_type"] for r in sink.values(REJECTS)] == ["dance"]


def test_a_single_invalid_event_reports_index_0(client):
    body = client.post("/v1/events", json=event("user_score", score=5000)).json()
    assert body["errors"] == [
        {
            "index": 0,
            "family": "user_score",
            "errors": [{"path": "score", "message": "5000 is greater than the maximum of 1000"}],
        }
    ]


def test_malformed_json_gets_400_and_its_raw_body_goes_to_the_rejects_topic(client, sink):
    raw = b'{"family": "game_api", "password": "' + SECRET.encode() + b'", "user_id": 1,'
    response = client.post("/v1/events", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"].startswith("malformed JSON")
    (reject,) = sink.values(REJECTS)
    assert reject["reason"] == "malformed_json"
    assert reject["raw"] == '{"family": "game_api", "password": "[REDACTED]", "user_id": 1,'
    assert reject["raw_bytes"] == len(raw) and reject["truncated"] is False


def test_a_large_malformed_body_is_truncated_in_the_rejects_topic(contracts, sink, auth):
    client = keyed_client(contracts, sink, auth, raw_reject_bytes=100)
    response = client.post("/v1/events", content=b"[" + b"1," * 1000)
    assert response.status_code == 400
    (reject,) = sink.values(REJECTS)
    assert len(reject["raw"]) == 100 and reject["truncated"] is True and reject["raw_bytes"] == 2001


def test_secrets_under_any_name_never_reach_a_record(client, sink):
    """Names no contract declares (seed 003's user_pwd, an apiKey in a list) go by policy."""
    nested = {"user_pwd": SECRET, "meta": {"auth": [{"apiKey": SECRET}]}}
    client.post(
        "/v1/events",
        json=[event("telemetry", **nested), {**event("telemetry", **nested), "family": "nope"}],
    )
    client.post("/v1/events", content=b'{"family": "x", "a": {"userPwd": "' + SECRET.encode())
    assert len(sink.records) == 3
    assert all(SECRET.encode() not in value for _, _, value in sink.records)


def test_no_password_reaches_any_record_valid_invalid_or_compat(client, sink):
    client.post("/v1/events", json=event("game_api"))
    client.post(
        "/v1/events", json=[event("game_api", status="bogus"), event("telemetry", password=SECRET)]
    )
    client.post("/v1/events", json={**event("game_api"), "family": "nope"})
    client.post("/v1/events", content=json.dumps(event("game_api")).encode()[:-5])
    client.post("/create/user", data={"userid": "u-1", "userpwd": SECRET, "username": "dirk"})
    client.post("/create/user", data={"userid": "u-1", "userpwd": SECRET, "username": "dirk"})
    assert len(sink.records) == 7
    for _, key, value in sink.records:
        assert SECRET.encode() not in value and SECRET.encode() not in (key or b"")
        assert b'"password"' not in value or b"[REDACTED]" in value


def test_a_body_over_the_size_limit_gets_413(client, sink):
    big = [event("telemetry", pad="x" * 1000) for _ in range(70)]
    response = client.post("/v1/events", json=big)
    assert response.status_code == 413
    assert "64000 bytes" in response.json()["error"]
    assert sink.records == []


def test_a_chunked_body_over_the_size_limit_gets_413(client, sink):
    chunks = (b"x" * 10_000 for _ in range(10))
    response = client.post("/v1/events", content=chunks)
    assert response.status_code == 413
    assert sink.records == []


def test_more_events_than_the_batch_limit_gets_413(client, sink):
    response = client.post("/v1/events", json=[event("user_score")] * 51)
    assert response.status_code == 413
    assert sink.records == []


def test_kafka_failing_to_acknowledge_gets_503(client, sink):
    sink.failing = True
    response = client.post("/v1/events", json=event("telemetry"))
    assert response.status_code == 503
    assert "broker gone" in response.json()["error"]


def test_health_reports_the_producer_and_needs_no_key(contracts, sink, auth):
    def down() -> None:
        raise GamelakeError("no Kafka broker answers")

    ring, _ = auth
    app = create_app(contracts, sink, topic, REJECTS, keys=ring)
    assert TestClient(app).get("/health").json() == {"status": "ok"}
    app = create_app(contracts, sink, topic, REJECTS, keys=ring, health_check=down)
    response = TestClient(app).get("/health")
    assert response.status_code == 503 and "no Kafka broker" in response.json()["error"]


def test_the_openapi_document_describes_the_routes(client):
    doc = client.get("/openapi.json").json()
    assert {
        "/v1/events",
        "/v1/events/{family}",
        "/health",
        "/create/user",
        "/buy/sword",
        "/data/user",
    } <= set(doc["paths"])
    body = doc["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert "telemetry" in body["oneOf"][0]["properties"]["family"]["enum"]
    assert client.get("/docs").status_code == 200


def test_the_fast_validator_agrees_with_jsonschema(contracts, sink):
    collector = Collector(contracts, sink, topic, REJECTS, lambda: NOW)
    candidates = []
    for family, example in EVENTS.items():
        candidates.append((family, example))
        for name, value in example.items():
            for other in (None, "x", -1, 1.5, 10**6, True, [], {}):
                if value != other:
                    candidates.append((family, {**example, name: other}))
    for family, candidate in candidates:
        expected = jsonschema.Draft202012Validator(contracts[family].json_schema()).is_valid(
            candidate
        )
        assert (collector.families[family].errors(candidate) == []) == expected, (family, candidate)


# --- seed 003 compatibility front ------------------------------------------------------------


def form(client: TestClient, path: str, **fields: str):
    return client.post(path, data=fields)


def test_the_seed_003_game_api_emits_game_api_events(client, sink, contracts):
    uid = "987611"
    ok = form(client, "/create/user", userid=uid, userpwd=SECRET, username="dirk", wealth="12345")
    assert (ok.status_code, ok.text) == (200, "Created user +:)")
    poor = "You do not have sufficient funds [:("
    assert (
        form(client, "/buy/sword", userid=uid, type="cutlass", cost="5000").text
        == "Sword purchased [:)"
    )
    assert form(client, "/buy/sword", userid=uid, type="longsword", cost="10000").text == poor
    assert (
        form(client, "/buy/spell", userid=uid, type="charm", cost="45").text
        == "Spell purchased <:)"
    )
    assert (
        form(
            client, "/join/guild", userid=uid, org="soldiers", level="masterofarms", cost="99"
        ).text
        == "Joined #guild"
    )
    assert (
        form(client, "/join/team", userid=uid, org="team ABCD", level="rookie", cost="99999").text
        == poor
    )
    profile = client.get("/data/user", params={"userid": uid}).json()
    assert profile["wealth"] == 12345 - 5000 - 45 - 99
    assert profile["inventory"] == ["cutlass", "charm"]
    assert [(a["org"], a["level"]) for a in profile["affiliations"]] == [
        ("soldiers", "masterofarms")
    ]
    assert "password" not in profile and "userpwd" not in profile

    events = sink.values(topic("game_api"))
    assert [(e["event_type"], e["status"]) for e in events] == [
        ("register", "created"), ("buy_sword", "approved_purchase"), ("buy_sword", "insufficient_funds"),
        ("buy_spell", "approved_purchase"), ("join_guild", "joined"), ("join_team", "insufficient_funds"),
        ("view_profile", "viewed"),
    ]  # fmt: skip
    assert {k for t, k, _ in sink.records} == {uid.encode()}
    schema = contracts["game_api"].json_schema()
    for e in events:
        jsonschema.validate(e, schema)
        assert "password" not in e
        assert e["source"] == "collector" and e["family"] == "game_api"
    refused = events[2]
    assert (refused["type"], refused["cost"]) == ("longsword", 10000.0)
    assert refused["player"]["wealth"] == 7345.0 and refused["player"]["inventory"] == ["cutlass"]
    assert events[1]["request"]["method"] == "POST" and events[1]["request"]["path"] == "/buy/sword"
    assert events[0]["timestamp"] == "2026-03-04 05:06:07.890123"


def test_the_seed_003_game_api_answers_unknown_and_duplicate_users(client, sink):
    assert form(client, "/buy/spell", userid="ghost", type="charm", cost="1").status_code == 404
    assert client.get("/data/user", params={"userid": "ghost"}).status_code == 404
    form(client, "/create/user", userid="1234", userpwd="pw", username="merly")
    assert (
        form(client, "/create/user", userid="1234", userpwd="pw", username="merly").status_code
        == 409
    )
    assert [e["status"] for e in sink.values(topic("game_api"))] == ["created", "denied"]


def test_the_seed_003_game_api_validates_its_form_fields(client, sink):
    form(client, "/create/user", userid="1234", username="merly")
    assert form(client, "/buy/sword", userid="1234", type="saber", cost="-5").status_code == 422
    assert form(client, "/buy/sword", userid="1234", type="saber", cost="cheap").status_code == 422
    assert client.get("/data/user", params={"userid": "1234"}).json()["wealth"] == 1000.0


# --- write keys and rate limits ---------------------------------------------------------------


def test_a_write_without_a_valid_key_gets_401_is_counted_and_writes_nothing(
    contracts, sink, auth, caplog
):
    caplog.set_level("INFO")
    ring, headers = auth
    token = headers["Authorization"].removeprefix("Bearer ")
    app = create_app(contracts, sink, topic, REJECTS, keys=ring)
    anonymous = TestClient(app)
    assert anonymous.post("/v1/events", json=event("telemetry")).status_code == 401
    assert anonymous.post("/v1/events/telemetry", content=b"not json").status_code == 401
    answer = anonymous.post(
        "/v1/events", json=event("telemetry"), headers={"Authorization": "Bearer glk_guess"}
    )
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    assert answer.json() == {"error": "invalid or revoked collector key"}
    # The seed 003 routes take the same key; a GET that emits an event too.
    form = {"userid": "u-1", "userpwd": SECRET, "username": "dirk"}
    assert anonymous.post("/create/user", data=form).status_code == 401
    assert anonymous.get("/data/user", params={"userid": "u-1"}).status_code == 401
    assert sink.records == []
    metrics = anonymous.get("/metrics").json()
    assert metrics == {
        "refused": {"missing_key": 4, "invalid_key": 1, "rate_limited": 0},
        "active_keys": 1,
    }
    # The same requests with the key are written.
    keyed = TestClient(app, headers=headers)
    assert keyed.post("/v1/events", json=event("telemetry")).status_code == 202
    assert keyed.post("/create/user", data=form).status_code == 200
    assert [t for t, _, _ in sink.records] == ["gamelake.telemetry", "gamelake.game_api"]
    # Refusals are logged; the key is in no log line and no record.
    assert caplog.text.count("refused POST") == 4 and "missing_key" in caplog.text
    assert token not in caplog.text
    assert all(token.encode() not in value for _, _, value in sink.records)


def test_a_revoked_key_is_refused_without_a_restart(contracts, sink, tmp_path):
    from gamelake.keys import create_key, key_store_path, revoke_keys

    ring, headers = key_ring(tmp_path, "game-a")
    _, other = create_key(key_store_path(tmp_path), "game-b")
    client = TestClient(create_app(contracts, sink, topic, REJECTS, keys=ring), headers=headers)
    assert client.post("/v1/events", json=event("user_score")).status_code == 202
    revoke_keys(key_store_path(tmp_path), source="game-a")
    assert client.post("/v1/events", json=event("user_score")).status_code == 401
    # A key made while the collector runs works at once.
    response = client.post(
        "/v1/events", json=event("user_score"), headers={"Authorization": f"Bearer {other}"}
    )
    assert response.status_code == 202
    assert len(sink.records) == 2


def test_a_key_over_its_rate_limit_gets_429_with_retry_after(contracts, sink, tmp_path):
    from gamelake.keys import RateLimiter

    now = [100.0]
    limiter = RateLimiter(rate=0.5, burst=2, clock=lambda: now[0])
    ring, headers = key_ring(tmp_path, "game-a")
    _, other_headers = key_ring(tmp_path, "game-b")
    app = create_app(contracts, sink, topic, REJECTS, keys=ring, rate_limiter=limiter)
    client = TestClient(app, headers=headers)
    assert [client.post("/v1/events", json=event("telemetry")).status_code for _ in range(2)] == [
        202,
        202,
    ]
    refused = client.post("/v1/events", json=event("telemetry"))
    assert refused.status_code == 429 and refused.headers["retry-after"] == "2"
    assert "rate limit" in refused.json()["error"]
    # Another key has a bucket of its own.
    response = client.post("/v1/events", json=event("telemetry"), headers=other_headers)
    assert response.status_code == 202
    now[0] += 2.0
    assert client.post("/v1/events", json=event("telemetry")).status_code == 202
    assert len(sink.records) == 4
    assert client.get("/metrics").json()["refused"]["rate_limited"] == 1


def test_the_openapi_document_asks_for_the_key_except_on_open_routes(client):
    doc = client.get("/openapi.json").json()
    assert doc["components"]["securitySchemes"]["collectorKey"]["scheme"] == "bearer"
    assert doc["security"] == [{"collectorKey": []}]
    assert doc["paths"]["/health"]["get"]["security"] == []


# --- events over Kafka's message size ---------------------------------------------------------


def test_an_event_over_the_message_limit_is_rejected_alone_and_cut(contracts, sink, auth):
    client = keyed_client(contracts, sink, auth, max_record_bytes=5_000)
    big = event("telemetry", pad="x" * 20_000, user_pwd=SECRET)
    response = client.post("/v1/events", json=[event("user_score"), big])
    assert response.status_code == 400
    body = response.json()
    assert body["accepted"] == 1 and body["rejected"] == 1
    (error,) = body["errors"][0]["errors"]
    assert (
        body["errors"][0]["index"] == 1
        and "over Kafka's message limit of 5,000" in error["message"]
    )
    assert [t for t, _, _ in sink.records] == ["gamelake.user_score", REJECTS]
    (reject,) = sink.values(REJECTS)
    assert reject["reason"] == "too_large" and reject["index"] == 1
    # An eighth of the limit: room for JSON escapes and the record's other fields.
    assert reject["truncated"] is True and reject["raw_bytes"] > 20_000
    assert len(reject["raw"]) == 5_000 // 8
    assert "event" not in reject and reject["raw"].startswith('{"family":"telemetry"')
    assert all(len(v) <= 5_000 for _, _, v in sink.records)
    assert SECRET.encode() not in sink.records[1][2]


def test_an_event_the_producer_refuses_for_its_size_is_rejected_not_a_503(contracts, auth):
    from gamelake.producer import RecordTooLarge

    class SizeLimitedSink(MemorySink):
        def send(self, topic, key, value):
            # A producer stricter than the collector's own count (kafka-python's estimate).
            if len(value) > 4_000:
                raise RecordTooLarge(f"{topic}: Broker: Message size too large")
            super().send(topic, key, value)

    sink = SizeLimitedSink()
    client = keyed_client(contracts, sink, auth, max_record_bytes=5_000)
    response = client.post("/v1/events", json=event("telemetry", pad="x" * 4_500))
    assert response.status_code == 400
    (reject,) = sink.values(REJECTS)
    assert reject["reason"] == "too_large" and reject["truncated"] is True


def test_an_event_naming_no_family_goes_to_the_family_its_shape_is(client, sink):
    seed_002 = {k: v for k, v in event("player_action").items() if k != "family"}
    response = client.post("/v1/events", json=[seed_002, {"player_id": "A01"}])
    assert response.status_code == 400
    assert response.json()["accepted"] == 1
    assert sink.records[0][:2] == (topic("player_action"), b"player_123")
    assert sink.values(topic("player_action"))[0]["family"] == "player_action"
    (error,) = response.json()["errors"]
    assert error["index"] == 1 and "missing family" in error["errors"][0]["message"]
