from __future__ import annotations

import datetime as dt

from gamelake.bronze import to_bronze
from gamelake.secrets import SecretPolicy

KAFKA_COLUMNS = (
    "key binary, value binary, topic string, partition int, offset long, timestamp timestamp"
)


def test_bronze_keeps_the_raw_bytes_and_kafka_coordinates(spark):
    ts = dt.datetime(2026, 1, 2, 3, 4, 5)
    rows = [
        (b"p1", b'{"player_id": 1}', "gamelake.player", 0, 7, ts),
        (None, b"\xff\xfe not json", "gamelake.telemetry", 1, 0, ts),
    ]
    out = to_bronze(spark.createDataFrame(rows, KAFKA_COLUMNS), "gamelake.").collect()
    by_offset = {r.kafka_offset: r for r in out}

    assert by_offset[7].family == "player"
    assert bytes(by_offset[7].value) == b'{"player_id": 1}'
    assert bytes(by_offset[7].kafka_key) == b"p1"
    assert by_offset[0].family == "telemetry"
    assert bytes(by_offset[0].value) == b"\xff\xfe not json"  # invalid UTF-8 kept as is
    assert by_offset[0].kafka_key is None
    assert all(r.ingest_date == r.ingested_at.date() for r in out)
    assert {r.kafka_ts for r in out} == {ts}


def test_topics_outside_the_prefix_keep_their_name_as_family(spark):
    df = spark.createDataFrame([(None, b"x", "other.topic", 0, 0, None)], KAFKA_COLUMNS)
    assert to_bronze(df, "gamelake.").first().family == "other.topic"


def test_secrets_are_redacted_wherever_they_appear(spark):
    rows = [
        (
            None,
            b'{"user_id": "u1", "password": "hunter2", "x": 1}',
            "gamelake.game_api",
            0,
            0,
            None,
        ),
        (None, b'{"password":12345,"n":{"password" : "a\\"b"}}', "gamelake.game_api", 0, 1, None),
        (None, b'{"broken": "json", "password": "s3cret', "gamelake.game_api", 0, 2, None),
        (None, b'{"user_id": "u2", "passwordless": true}', "gamelake.game_api", 0, 3, None),
    ]
    out = {
        r.kafka_offset: bytes(r.value)
        for r in to_bronze(
            spark.createDataFrame(rows, KAFKA_COLUMNS),
            "gamelake.",
            SecretPolicy(words=(), exact=("password",)),
        ).collect()
    }
    assert out[0] == b'{"user_id": "u1", "password": "[REDACTED]", "x": 1}'
    # A number stays a number (silver refuses it in a string field), its value gone.
    assert out[1] == b'{"password":0,"n":{"password" : "[REDACTED]"}}'
    assert b"s3cret" not in out[2]
    assert out[3] == b'{"user_id": "u2", "passwordless": true}'  # untouched, byte for byte
