"""Which micro-batches a Delta table holds: from hand-written logs, and from real appends."""

from __future__ import annotations

import json

from gamelake.ledger import BatchLedger, append_batch, batch_tag, last_committed_batch
from tests.delta_log import ADD, info, write_commit


def test_the_newest_commit_of_the_app_names_its_last_batch(tmp_path):
    log_dir = tmp_path / "t" / "_delta_log"
    write_commit(log_dir, 0, info(1_000, batch_tag("silver.a", 0)), ADD)
    write_commit(log_dir, 1, info(2_000, batch_tag("silver.b", 9)), ADD)  # another app
    write_commit(log_dir, 2, info(3_000, batch_tag("silver.a", 1)), ADD)
    write_commit(log_dir, 3, info(4_000), {"remove": {"path": "x"}})  # a compaction
    assert last_committed_batch(tmp_path / "t", "silver.a") == 1
    assert last_committed_batch(tmp_path / "t", "silver.b") == 9
    assert last_committed_batch(tmp_path / "t", "silver.c") == -1


def test_commits_of_deltas_txn_scheme_count_too(tmp_path):
    """Lakes written before the ledger carry the batch as a txn action."""
    log_dir = tmp_path / "t" / "_delta_log"
    write_commit(log_dir, 0, info(1_000), {"txn": {"appId": "silver.a", "version": 4}}, ADD)
    write_commit(log_dir, 1, info(2_000, "not json, someone's note"), ADD)
    assert last_committed_batch(tmp_path / "t", "silver.a") == 4


def test_without_commits_left_the_checksums_transactions_answer(tmp_path):
    """Log cleanup may have removed the JSON of an app's last txn commit: the .crc keeps it."""
    log_dir = tmp_path / "t" / "_delta_log"
    write_commit(log_dir, 30, info(1_000), ADD)
    crc = {"setTransactions": [{"appId": "silver.a", "version": 7, "lastUpdated": 1}]}
    (log_dir / f"{30:020d}.crc").write_text(json.dumps(crc))
    assert last_committed_batch(tmp_path / "t", "silver.a") == 7


def test_the_scan_stops_at_commits_older_than_the_app(tmp_path):
    log_dir = tmp_path / "t" / "_delta_log"
    write_commit(log_dir, 0, info(1_000, batch_tag("silver.a", 3)), ADD)  # an impostor, long ago
    write_commit(log_dir, 1, info(10_000_000), ADD)
    assert last_committed_batch(tmp_path / "t", "silver.a", born_ms=5_000_000) == -1
    assert last_committed_batch(tmp_path / "t", "silver.a") == 3


def test_a_table_that_does_not_exist_holds_nothing(tmp_path):
    assert last_committed_batch(tmp_path / "none", "silver.a") == -1


def test_a_replayed_batch_is_appended_once_across_processes(spark, tmp_path):
    table = tmp_path / "t"
    rows = spark.createDataFrame([(1,), (2,)], "n int")
    ledger = BatchLedger()
    assert append_batch(rows, table, (), "app", 0, ledger)
    assert not append_batch(rows, table, (), "app", 0, ledger)  # same process, from memory
    # A restarted process knows only the log.
    assert not append_batch(rows, table, (), "app", 0, BatchLedger())
    assert append_batch(rows, table, (), "app", 1, BatchLedger())
    assert append_batch(rows, table, (), "other-app", 0, BatchLedger())
    assert spark.read.format("delta").load(str(table)).count() == 6
    assert last_committed_batch(table, "app") == 1
