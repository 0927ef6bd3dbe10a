"""Offset ranges, their guards and the coordinate dedup of backfill, on plain values and tiny
frames."""

from __future__ import annotations

import json

import pytest

from gamelake.errors import GamelakeError
from gamelake.ops import offsets as o
from gamelake.ops.backfill import merge_condition, missing_from, plan_range, range_app_id
from gamelake.ops.reset import default_start, set_aside_path

EARLIEST = {"g.a": {0: 0, 1: 10}, "g.b": {0: 0}}
LATEST = {"g.a": {0: 50, 1: 60}, "g.b": {0: 5}}


def test_parse_bound_accepts_the_four_forms():
    assert o.parse_bound("earliest").kind == "earliest"
    assert o.parse_bound("latest").kind == "latest"
    b = o.parse_bound('{"g.a": {"0": 3, "1": 4}}')
    assert b.kind == "offsets" and b.offsets == {"g.a": {0: 3, 1: 4}}
    t = o.parse_bound("2026-11-23T18:00:00Z")
    assert t.kind == "timestamp" and t.timestamp_ms == 1795456800000
    assert o.parse_bound("1795456800000").timestamp_ms == 1795456800000
    # A time without a zone is UTC, as everywhere in the lake.
    assert o.parse_bound("2026-11-23T18:00:00").timestamp_ms == 1795456800000


@pytest.mark.parametrize("bad", ['{"g.a": [1, 2]}', '{"g.a": {"x": 1}}', "{nope", "yesterday"])
def test_bad_bounds_are_clear_errors(bad):
    with pytest.raises(GamelakeError):
        o.parse_bound(bad)


def test_only_one_start_at_a_time():
    with pytest.raises(GamelakeError, match="more than one"):
        o.start_bound_from(True, "2026-01-01", None)
    assert o.start_bound_from() is None
    assert o.start_bound_from(from_offsets='{"g.a": {"0": 1}}').offsets == {"g.a": {0: 1}}


def test_explicit_offsets_fill_unnamed_partitions_from_earliest_and_leave_other_topics():
    bound = o.Bound("offsets", offsets={"g.a": {0: 7}})
    assert o.resolve_bound(bound, EARLIEST, LATEST) == {"g.a": {0: 7, 1: 10}}


def test_offsets_naming_unknown_topics_or_partitions_are_refused():
    with pytest.raises(GamelakeError, match=r"g\.zzz"):
        o.resolve_bound(o.Bound("offsets", offsets={"g.zzz": {0: 1}}), EARLIEST, LATEST)
    with pytest.raises(GamelakeError, match="no partition 9"):
        o.resolve_bound(o.Bound("offsets", offsets={"g.a": {9: 1}}), EARLIEST, LATEST)


def test_a_time_resolves_through_kafka_and_partitions_without_newer_records_are_empty():
    at_time = {"g.a": {0: 20}}  # g.a[1] and g.b[0] hold nothing since then
    start = o.resolve_bound(o.Bound("timestamp", timestamp_ms=1), EARLIEST, LATEST, at_time)
    assert start == {"g.a": {0: 20, 1: 60}, "g.b": {0: 5}}
    assert o.range_size(start, LATEST) == 30


def test_spark_options_read_exactly_the_non_empty_partitions():
    start = {"g.a": {0: 20, 1: 60}, "g.b": {0: 0}}
    opts = o.spark_range_options(start, LATEST)
    assert json.loads(opts["assign"]) == {"g.a": [0], "g.b": [0]}
    assert json.loads(opts["startingOffsets"]) == {"g.a": {"0": 20}, "g.b": {"0": 0}}
    assert json.loads(opts["endingOffsets"]) == {"g.a": {"0": 50}, "g.b": {"0": 5}}


def test_a_start_before_what_retention_kept_is_refused_unless_forced():
    bound = o.Bound("offsets", offsets={"g.a": {0: 0, 1: 3}})
    start = o.resolve_bound(bound, EARLIEST, LATEST)
    with pytest.raises(GamelakeError) as err:
        plan_range(start, LATEST, EARLIEST, bound, force=False)
    assert "g.a[1] wants 3, has 10" in err.value.cause and "7 records gone" in err.value.cause
    assert "--force" in err.value.fix
    plan = plan_range(start, LATEST, EARLIEST, bound, force=True)
    assert [(g.topic, g.partition) for g in plan.retention_gaps] == [("g.a", 1)]


def test_a_time_older_than_the_oldest_kept_record_is_refused_when_retention_deleted_some():
    bound = o.Bound("timestamp", timestamp_ms=1)
    # g.a[1]: its first record since then is the first one kept, and 10 were deleted.
    start = {"g.a": {0: 20, 1: 10}, "g.b": {0: 0}}
    with pytest.raises(GamelakeError, match="may be lost"):
        o.check_retention(bound, start, EARLIEST, force=False)
    # g.b[0] starts at its kept offset 0: nothing was deleted there, nothing to fear.
    assert o.check_retention(bound, {"g.b": {0: 0}}, EARLIEST, force=False) == []


def test_earliest_never_trips_the_retention_guard():
    start = o.resolve_bound(o.Bound("earliest"), EARLIEST, LATEST)
    assert o.check_retention(o.Bound("earliest"), start, EARLIEST, force=False) == []


def test_a_reset_past_the_committed_offsets_is_refused_unless_forced():
    bound = o.Bound("latest")
    committed = {"g.a": {0: 40, 1: 60}}
    with pytest.raises(GamelakeError, match="10 records would never land"):
        plan_range(LATEST, LATEST, EARLIEST, bound, force=False, committed=committed)
    assert plan_range(LATEST, LATEST, EARLIEST, bound, True, committed).skipped_gaps


def test_a_reset_continues_from_the_committed_offsets_and_reads_new_topics_from_the_start():
    bound = default_start({"g.a": {0: 40, 1: 60}}, LATEST)
    assert o.resolve_bound(bound, EARLIEST, LATEST) == {"g.a": {0: 40, 1: 60}, "g.b": {0: 0}}
    assert default_start(None, LATEST) is None


def test_checkpoint_offsets_are_those_of_the_last_committed_batch(tmp_path):
    assert o.checkpoint_offsets(tmp_path) is None
    (tmp_path / "offsets").mkdir()
    (tmp_path / "commits").mkdir()
    for batch, off in ((0, 5), (1, 9), (2, 12)):
        (tmp_path / "offsets" / str(batch)).write_text(
            f'v1\n{{"batchWatermarkMs":0}}\n{{"g.a":{{"0":{off},"1":3}}}}\n'
        )
    for batch in (0, 1):  # batch 2 was planned but never committed
        (tmp_path / "commits" / str(batch)).write_text("v1\n{}\n")
    assert o.checkpoint_offsets(tmp_path) == {"g.a": {0: 9, 1: 3}}


def test_replaced_checkpoints_are_kept_beside_with_the_reset_time(tmp_path):
    import datetime as dt

    when = dt.datetime(2026, 11, 23, 18, 5, 0, tzinfo=dt.UTC)
    assert set_aside_path(tmp_path / "events", when).name == "events.replaced-20261123T180500Z"


def test_a_range_has_one_app_id_whatever_the_dict_order():
    a = range_app_id({"g.a": {0: 1, 1: 2}}, LATEST)
    b = range_app_id({"g.a": {1: 2, 0: 1}}, dict(reversed(list(LATEST.items()))))
    assert a == b and a != range_app_id({"g.a": {0: 2, 1: 2}}, LATEST)


def test_merge_condition_matches_coordinates_and_prunes_on_family():
    cond = merge_condition(("family", "ingest_date"))
    assert cond == (
        "t.topic = s.topic and t.kafka_partition = s.kafka_partition and "
        "t.kafka_offset = s.kafka_offset and t.family = s.family"
    )


def test_missing_from_keeps_each_new_coordinate_once(spark):
    cols = "topic string, kafka_partition int, kafka_offset long, value string"
    existing = spark.createDataFrame([("g.a", 0, 1, "old"), ("g.a", 1, 1, "old")], cols)
    incoming = spark.createDataFrame(
        [("g.a", 0, 1, "again"), ("g.a", 0, 2, "new"), ("g.a", 0, 2, "new"), ("g.a", 2, 1, "new")],
        cols,
    )
    out = sorted(tuple(r) for r in missing_from(incoming, existing).collect())
    assert out == [("g.a", 0, 2, "new"), ("g.a", 2, 1, "new")]


def test_rows_added_come_from_our_merge_even_when_auto_compaction_commits_after_it():
    from gamelake.ops.backfill import merged_rows

    history = [
        {"version": 7, "operation": "OPTIMIZE", "operationMetrics": {"numAddedFiles": "1"}},
        {"version": 6, "operation": "MERGE", "operationMetrics": {"numTargetRowsInserted": "66"}},
        {"version": 5, "operation": "MERGE", "operationMetrics": {"numTargetRowsInserted": "9"}},
    ]
    assert merged_rows(history, before=5) == 66
    assert merged_rows(history, before=7) == 0


def test_a_backfill_needs_a_start_and_a_reset_may_continue_without_one():
    from gamelake.ops.backfill import BackfillRequest

    with pytest.raises(GamelakeError, match="no start given"):
        BackfillRequest().start()
    assert BackfillRequest(reset_checkpoint=True).start() is None
    assert BackfillRequest(earliest=True).start().kind == "earliest"


def test_a_reset_dry_run_names_the_new_checkpoint(tmp_path):
    from gamelake.ops.backfill import BackfillPlan, BackfillRequest, dry_run_lines

    plan = BackfillPlan({"g.a": {0: 2}}, {"g.a": {0: 5}}, {"g.a": {0: 0}}, ())
    assert dry_run_lines(plan, BackfillRequest(earliest=True), tmp_path) == [
        "would backfill 3 offsets in 1 partitions: g.a[0] 2..5"
    ]
    reset = dry_run_lines(plan, BackfillRequest(reset_checkpoint=True), tmp_path)
    assert reset[1] == f"then start a new checkpoint at {tmp_path}"
