"""The benchmarks' reading of a job's log: micro-batches per query."""

from bench._jobs import batch_digest, logged_batches

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
