"""The benchmarks' reading of a job's log (micro-batches per query), and their summary."""

import datetime as dt

from bench._jobs import batch_digest, logged_batches, silver_phases
from bench.freshness import log_since, note_seen, poll_query, summary, with_markers
from gamelake import feed
from gamelake.generator import Record

LOG = """\
INFO gamelake.progress: bronze_events batch 0: 500 rows in 2400 ms, Kafka lag 0
INFO gamelake.streams: silver batch 0: 500 rows in, 480 to silver, 20 quarantined, 9000 ms
INFO gamelake.progress: silver batch 0: 500 rows in 9100 ms
INFO gamelake.progress: silver batch 1: 0 rows in 300 ms
INFO gamelake.progress: gold_player_kd_5m batch 4: 480 rows in 3000 ms
INFO gamelake.progress: silver batch 2: 100 rows in 5100 ms
"""


def test_only_batches_that_read_rows_count_and_the_silver_summary_line_is_not_one():
    assert [(b["query"], b["batch"]) for b in logged_batches(LOG)] == [
        ("bronze_events", 0),
        ("silver", 0),
        ("gold_player_kd_5m", 4),
        ("silver", 2),
    ]
    assert [b["batch"] for b in logged_batches(LOG, ("silver",))] == [0, 2]


def test_the_digest_sums_rows_and_time_per_query():
    digest = batch_digest(LOG)
    assert list(digest) == ["bronze_events", "gold_player_kd_5m", "silver"]
    assert digest["silver"] == {
        "batches": 2, "rows": 600, "ms_total": 14200, "ms_median": 7100, "ms_max": 9100
    }  # fmt: skip
    assert batch_digest("") == {}


def test_the_silver_handler_line_gives_each_batch_its_phases():
    line = (
        "INFO gamelake.streams: silver batch 3: 96950 rows in, 91991 to silver, 4959 "
        "quarantined, 20980 ms (read+dedup 1434, parse+row rules 12942, batch "
        "rules+quarantine 1855, 13 writes 4748)\n"
    )
    assert silver_phases(LOG + line) == {
        3: {"read_dedup_ms": 1434, "parse_row_rules_ms": 12942,
            "batch_rules_quarantine_ms": 1855, "writes_ms": 4748},
    }  # fmt: skip


def test_the_summary_shows_each_microbatch_size_against_sparks_pass():
    from bench._summary import microbatch

    size = {"rows_per_batch": 1000, "batches": 6, "gated": True, "handler_median_s": 6.69,
            "handler_max_s": 7.94, "bare_median_s": 1.88, "ratio_bare_over_handler": 0.281,
            "handler_events_per_s": 149}  # fmt: skip
    text, png = microbatch({"target": "1,000 rows <= 5 s", "sizes": [size]}, plt=None)
    assert png is None and "Target: 1,000 rows <= 5 s" in text
    assert "| 1,000 | 6 | True | 6.69 | 7.94 | 1.88 | 0.281 | 149 |" in text.splitlines()


def test_the_measured_phase_reads_only_the_log_lines_stamped_after_it_began():
    log = (
        "2026-12-05 18:44:32,447 INFO gamelake.progress: bronze_events batch 0: 9 rows in 5 ms\n"
        "2026-12-05 18:46:17,253 INFO gamelake.progress: bronze_events batch 1: 7 rows in 3 ms\n"
    )
    since = log_since(log, dt.datetime(2026, 12, 5, 18, 46, 17))
    assert [b["rows"] for b in logged_batches(since)] == [7]


def test_warm_up_markers_are_named_apart_from_the_measured_ones():
    records = [Record("telemetry", b"k", b"{}")] * 2
    warm, measured = {}, {}
    warm_out = list(with_markers(iter(records), "r1", warm, "w"))
    measured_out = list(with_markers(iter(records), "r1", measured))
    assert list(warm) == ["freshr1_w1"] and list(measured) == ["freshr1_1"]
    assert [r.key for r in warm_out[:1]] == [b"freshr1_w1"] and len(warm_out) == 3
    assert [r.key for r in measured_out[:1]] == [b"freshr1_1"]


def test_the_freshness_summary_shows_the_cold_start_beside_the_warm_measurement():
    from bench._summary import freshness

    unseen = {"markers_sent": 5, "markers_seen": 0, "kept_up": False, "behind_at_end_s": 9.0}
    cold = {"silver.telemetry": {"p95_s": 149.8}, "gold.player_kd_5m": {"p95_s": 157.5}}
    runs = [
        {"rate_asked": 3000, "tables": {"silver.telemetry": unseen},
         "warm_up": {"seconds": 60.0, "caught_up": True, "caught_up_after_s": 114.9,
                     "tables": cold}},
        {"rate_asked": 20000, "tables": {"silver.telemetry": unseen},
         "warm_up": {"seconds": 60.0, "caught_up": False, "caught_up_after_s": None,
                     "tables": cold}},
    ]  # fmt: skip
    text, png = freshness({"runs": runs}, plt=None)
    lines = text.splitlines()
    assert png is None and "got 60 s of production at the same rate" in text
    assert "| 3,000 | 115 | 150 | 158 |" in lines
    assert "| 20,000 | not within the drain | 150 | 158 |" in lines


def test_a_marker_the_producer_took_but_did_not_send_is_not_counted_as_sent():
    records = [Record("telemetry", b"k", b"{}")] * 5
    sent = {}
    # Time is up when the producer takes its first record, the marker: it sends nothing.
    ticks = iter([0.0, 5.0, 5.0])
    summary = feed.drive(
        with_markers(iter(records), "r1", sent), lambda r: None, rate=0, duration_s=1.0,
        clock=lambda: next(ticks),
    )  # fmt: skip
    assert summary.records == 0 and sent == {}
    # Sent, then the producer came back for more: counted.
    feed.drive(with_markers(iter(records), "r2", sent), lambda r: None)
    assert list(sent) == ["freshr2_1"]


def test_a_backlog_that_grows_is_not_kept_up_with_even_when_the_drain_lets_it_catch_up():
    sent = {f"m{i}": float(i) for i in range(8)}
    steady = {m: t + 5.0 for m, t in sent.items()}
    growing = {m: t + 5.0 + 4.0 * t for m, t in sent.items()}  # 5 s late at first, 33 s at last
    ok, late = summary(sent, steady, 20.0, 15.0), summary(sent, growing, 60.0, 15.0)
    assert ok["caught_up"] and ok["kept_up"]
    assert (ok["p50_first_quarter_s"], ok["p50_last_quarter_s"]) == (5.0, 5.0)
    assert late["caught_up"] and not late["kept_up"]
    assert (late["p50_first_quarter_s"], late["p50_last_quarter_s"]) == (7.0, 31.0)


def test_each_poll_reads_only_from_the_last_marker_it_saw_on():
    table = "silver.telemetry"
    first = poll_query(table, "r1", None)
    assert ">=" not in first and "like 'freshr1_%'" in first
    seen: dict[str, dict[str, float]] = {table: {}}
    since: dict[str, dt.datetime] = {}
    at = dt.datetime(2026, 12, 5, 22, 0, 1, 500000, tzinfo=dt.UTC)
    note_seen(table, [("freshr1_1", at), ("freshr1_2", at + dt.timedelta(seconds=2))], 10.0, seen, since)  # fmt: skip
    assert since[table] == at + dt.timedelta(seconds=2)
    bounded = poll_query(table, "r1", since[table])
    assert "ingested_at >= from_iso8601_timestamp('2026-12-05T22:00:03.500000+00:00')" in bounded
    # A marker keeps its first sight; an older ordering value never moves the bound back.
    note_seen(table, [("freshr1_2", at), ("freshr1_3", at + dt.timedelta(seconds=3))], 12.0, seen, since)  # fmt: skip
    assert seen[table] == {"freshr1_1": 10.0, "freshr1_2": 10.0, "freshr1_3": 12.0}
    assert since[table] == at + dt.timedelta(seconds=3)
    # Gold reads one window back: an earlier marker can show after a later one across a
    # window boundary.
    gold = poll_query("gold.player_kd_5m", "r1", at)
    assert "window_start >= from_iso8601_timestamp('2026-12-05T21:55:01.500000+00:00')" in gold
