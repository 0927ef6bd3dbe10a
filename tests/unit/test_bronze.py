from __future__ import annotations

import datetime as dt

from gamelake.bronze import to_bronze

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
