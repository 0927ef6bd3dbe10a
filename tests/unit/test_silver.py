"""Silver transforms on tiny frames: flattening, casts, PII, drift, mixed arrays, quarantine."""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import json

import pytest

from gamelake.config import project_root
from gamelake.contracts import load_contracts
from gamelake.silver import (
    parse_family,
    to_children,
    to_quarantine,
    to_silver,
    unknown_family_quarantine,
    with_event_id,
)
from tests.samples import EXAMPLES

BRONZE = (
    "kafka_key binary, value binary, topic string, kafka_partition int, kafka_offset long, "
    "kafka_ts timestamp, ingested_at timestamp, family string, ingest_date date"
)
KAFKA_TS = dt.datetime(2026, 1, 1, 12, 0, 0)


@pytest.fixture(scope="module")
def contracts(root):
    return load_contracts(root / "conf" / "contracts")


def bronze(spark, family, payloads):
    rows = [
        (None, p if isinstance(p, bytes) else json.dumps(p).encode(), f"gamelake.{family}", 0, i,
         KAFKA_TS, KAFKA_TS, family, KAFKA_TS.date())
        for i, p in enumerate(payloads)
    ]  # fmt: skip
    return with_event_id(spark.createDataFrame(rows, BRONZE), all_contracts())


@functools.cache
def all_contracts():
    return load_contracts(project_root() / "conf" / "contracts")


def silver_rows(spark, contracts, family, payloads):
    parsed = parse_family(bronze(spark, family, payloads), contracts[family])
    return parsed, to_silver(parsed, contracts[family]).collect()


@pytest.mark.parametrize("family", sorted(EXAMPLES))
def test_every_family_flattens_its_seed_example(spark, contracts, family):
    parsed, rows = silver_rows(spark, contracts, family, [EXAMPLES[family]])
    assert to_quarantine(parsed).count() == 0
    (row,) = rows
    assert row.family == family
    assert row.event_id and row.event_type and row.event_ts is not None
    assert row.schema_version == contracts[family].schema_version
    # Flat: no struct columns in silver.
    assert not any(
        f.dataType.typeName() == "struct" for f in to_silver(parsed, contracts[family]).schema
    )


def test_nested_fields_become_named_columns_with_types(spark, contracts):
    _, (tx,) = silver_rows(spark, contracts, "transaction", [EXAMPLES["transaction"]])
    assert (tx.transaction_id, tx.user_id, tx.platform, tx.item_type) == (
        "trans_789",
        "player_123",
        "PC",
        "skin",
    )
    assert tx.amount == decimal.Decimal("4.99")
    assert tx.event_type == "purchase"
    assert tx.event_ts == dt.datetime(2024, 11, 12, 10, 16, 5)

    _, (srv,) = silver_rows(spark, contracts, "server_metric", [EXAMPLES["server_metric"]])
    assert (srv.cpu_load_pct, srv.memory_usage_pct, srv.latency_ms, srv.region) == (
        78.0,
        65.0,
        120.0,
        "us-west",
    )


def test_times_coordinates_and_room_names_are_parsed(spark, contracts):
    _, (room,) = silver_rows(spark, contracts, "game_room", [EXAMPLES["game_room"]])
    assert (room.room_id, room.room_mode, room.room_tier) == (2975, "Classic", "Skilled")
    assert room.created_at == room.event_ts == dt.datetime(2021, 1, 1)

    _, (act,) = silver_rows(spark, contracts, "player_activity", [EXAMPLES["player_activity"]])
    assert (act.coord_x, act.coord_y, act.room_id) == (52, 27, 1529)
    assert act.event_ts == KAFKA_TS  # no activity_ts: the Kafka time stands in

    _, (api,) = silver_rows(spark, contracts, "game_api", [EXAMPLES["game_api"]])
    assert api.event_ts == dt.datetime(2020, 11, 23, 14, 58, 44, 738252)


def test_pii_is_masked_or_hashed_and_secrets_never_land(spark, contracts):
    _, (player,) = silver_rows(spark, contracts, "player", [EXAMPLES["player"]])
    assert player.ip == "151.228.5.0/24"
    assert len(player.player_name) == 64 and "Rossie" not in player.player_name
    _, (api,) = silver_rows(
        spark, contracts, "game_api", [{**EXAMPLES["game_api"], "password": "hunter2"}]
    )
    assert "password" not in api.asDict()
    assert "hunter2" not in json.dumps(api.asDict(), default=str)


def test_mixed_shape_arrays_become_child_rows(spark, contracts):
    parsed = parse_family(bronze(spark, "game_api", [EXAMPLES["game_api"]]), contracts["game_api"])
    children = {
        name: df.orderBy("position").collect()
        for name, df in to_children(parsed, contracts["game_api"]).items()
    }
    inventory = [
        (r.position, r.item_name, r.item_kind, r.quantity) for r in children["player_inventory"]
    ]
    assert inventory == [
        (0, "cutlass", None, None),
        (1, "charm", "spell", None),
    ]  # the null item is skipped
    orgs = [(r.org, r.org_level, r.joined_at) for r in children["player_affiliations"]]
    assert orgs == [
        ("soldiers", "masterofarms", dt.datetime(2020, 11, 23, 14, 58, 44, 738252)),
        ("magicians", None, None),
    ]
    (api,) = to_silver(parsed, contracts["game_api"]).collect()
    assert (api.inventory_count, api.affiliations_count) == (3, 2)


def test_empty_and_missing_arrays_give_no_children_and_zero_counts(spark, contracts):
    event = {**EXAMPLES["game_api"], "player": {"wealth": 10.0, "inventory": []}}
    parsed = parse_family(bronze(spark, "game_api", [event]), contracts["game_api"])
    assert all(df.count() == 0 for df in to_children(parsed, contracts["game_api"]).values())
    (api,) = to_silver(parsed, contracts["game_api"]).collect()
    assert (api.inventory_count, api.affiliations_count) == (0, 0)


def test_unknown_fields_are_rescued_not_dropped(spark, contracts):
    drifted = {**EXAMPLES["player_action"], "device": {"os": "ios"}}
    drifted["parameters"] = {**drifted["parameters"], "difficulty": "hard"}
    _, (row,) = silver_rows(spark, contracts, "player_action", [drifted])
    assert json.loads(row._rescued_data) == {
        "device": '{"os":"ios"}',
        "parameters.difficulty": "hard",
    }
    _, (clean,) = silver_rows(spark, contracts, "player_action", [EXAMPLES["player_action"]])
    assert clean._rescued_data is None


@pytest.mark.parametrize(
    ("payload", "rule"),
    [
        (b'{"player_id": "A01", "timesta', "parse.not_json"),
        (b"\xff\xfe{}", "parse.invalid_utf8"),
        (b"[1, 2]", "parse.not_object"),
        (b"null", "parse.not_object"),
        (b"{'player_id': 'A01', 'timestamp': 1, 'event_type': 'kill'}", "parse.not_json"),
        (b'{"player_id": "A01", "timestamp": NaN, "event_type": "kill"}', "parse.not_json"),
        # Content after the object: Spark's own reader would stop at the first '}'.
        (b'{"player_id": "A01", "timestamp": 1, "event_type": "kill"}}', "parse.not_json"),
        (b'{"player_id": "A01", "timestamp": 1, "event_type": "kill"},', "parse.not_json"),
        (b'{"player_id": "A01", "timestamp": 1, "event_type": "kill"}\x00', "parse.not_json"),
        (b'{"player_id": "A01", "timestamp": 1, "event_type": "kill"}]}', "parse.not_json"),
        (b'{"player_id": "A01", "timestamp": 1, "event_type": "kill"},{"a": 1}', "parse.not_json"),
        ({"player_id": "A01", "timestamp": "yesterday", "event_type": "kill"}, "contract.type"),
        # Spark would read the number into the string column as "12345": the JSON kind decides.
        ({"player_id": 12345, "timestamp": 1700000000000, "event_type": "kill"}, "contract.type"),
        (
            {"player_id": {"id": 1}, "timestamp": 1700000000000, "event_type": "kill"},
            "contract.type",
        ),
        ({"player_id": "A01", "timestamp": 1700000000000, "event_type": "revive"}, "contract.enum"),
        ({"timestamp": 1700000000000, "event_type": "kill"}, "contract.required"),
        (
            {"player_id": None, "timestamp": 1700000000000, "event_type": "kill"},
            "contract.required",
        ),
    ],
)
def test_bad_records_go_to_quarantine_with_a_reason(spark, contracts, payload, rule):
    parsed, rows = silver_rows(spark, contracts, "telemetry", [payload])
    assert rows == []
    (q,) = to_quarantine(parsed).collect()
    assert rule in q.rules
    assert q.reason and q.family == "telemetry"
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    assert bytes(q.raw_value) == raw  # the record as it arrived


def test_ranges_patterns_and_time_formats_are_checked(spark, contracts):
    cases = [
        ("user_score", {**EXAMPLES["user_score"], "score": 5000}, "contract.range"),
        ("game_room", {**EXAMPLES["game_room"], "room_name": "no tier"}, "contract.pattern"),
        (
            "player_action",
            {**EXAMPLES["player_action"], "event_timestamp": "soon"},
            "contract.time_format",
        ),
        # A number where an ISO time belongs would otherwise be read as the year 12345.
        ("player_action", {**EXAMPLES["player_action"], "event_timestamp": 12345}, "contract.type"),
        (
            "transaction",
            {
                **EXAMPLES["transaction"],
                "parameters": {**EXAMPLES["transaction"]["parameters"], "amount": "4.99"},
            },
            "contract.type",
        ),
    ]
    for family, payload, rule in cases:
        parsed = parse_family(bronze(spark, family, [payload]), contracts[family])
        (q,) = to_quarantine(parsed).collect()
        assert rule in q.rules, (family, q.reason)


def test_event_id_is_the_producers_or_a_stable_hash(spark, contracts):
    rows = bronze(
        spark,
        "telemetry",
        [
            EXAMPLES["telemetry"],
            EXAMPLES["telemetry"],
            {**EXAMPLES["telemetry"], "event_id": "given"},
        ],
    ).collect()
    assert rows[0].event_id == rows[1].event_id != rows[2].event_id
    assert rows[2].event_id == "given"


def test_only_payloads_with_an_identity_are_deduplicated(spark):
    payloads = [
        b"<html>502 Bad Gateway</html>",  # two identical failures are two records
        b"<html>502 Bad Gateway</html>",
        b'{"player_id": "A01", "event_type": "kill", "timestamp": 1}',  # an exact re-send:
        b'{"player_id": "A01", "event_type": "kill", "timestamp": 1}',  # one fact
        b'{"event_id": 12345, "player_id": "B"}',  # a number is no id: the content decides
        b'{"event_id": 12345, "player_id": "C"}',
        b"{'player_id': 'single quotes are not JSON'}",
        b"{'player_id': 'single quotes are not JSON'}",
    ]
    rows = bronze(spark, "telemetry", payloads).orderBy("kafka_offset").collect()
    keys = [r._dedup_key for r in rows]
    assert keys[0] != keys[1]
    assert keys[2] == keys[3] == rows[2].event_id
    assert keys[4] != keys[5]
    assert keys[6] != keys[7]


def test_records_of_no_family_are_quarantined_with_the_collectors_reason(spark):
    rejected = bronze(
        spark,
        "_rejects",
        [
            {"reason": "schema", "event": {"family": "telemetry"}},
            {"reason": "too_large", "origin": {"command": "produce", "line": 2}},
        ],
    )
    stray = bronze(spark, "smoke", [b"anything"])
    out = unknown_family_quarantine(rejected.unionByName(stray), ["telemetry"], "_rejects")
    rows = {r.family: r for r in out.collect()}
    assert {r.reason for r in out.where("family = '_rejects'").collect()} == {
        "collector: schema",
        "produce: too_large",
    }
    assert rows["_rejects"].rules == ["collector.rejected"]
    assert rows["smoke"].rules == ["parse.unknown_family"]
    assert rows["smoke"].reason == "no contract for family smoke"
    assert bytes(rows["smoke"].raw_value) == b"anything"
    assert unknown_family_quarantine(stray, ["smoke"], "_rejects").count() == 0


def test_a_repeated_key_resolves_last_wins_and_trailing_whitespace_is_json(spark, contracts):
    payload = b'{"player_id": "X", "player_id": "A01", "timestamp": 1700000000000, "event_type": "kill"}\n'
    _, (row,) = silver_rows(spark, contracts, "telemetry", [payload])
    assert row.player_id == "A01"
