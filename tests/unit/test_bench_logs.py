"""The benchmarks' reading of a job's log (micro-batches per query), and their summary."""

from bench._jobs import batch_digest, logged_batches, silver_phases

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
