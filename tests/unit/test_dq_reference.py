from __future__ import annotations

from delta.tables import DeltaTable

from gamelake.dq.reference import ReferenceKeys, unknown_values


def _append(spark, path, ids, partition_by=()):
    df = spark.createDataFrame([(i, "x") for i in ids], "room_id string, tier string")
    df.write.format("delta").mode("append").partitionBy(*partition_by).save(str(path))


def test_keys_are_read_once_then_kept_current_from_the_log(spark, tmp_path):
    path = tmp_path / "silver" / "game_room"
    refs = ReferenceKeys()
    assert refs.known(spark, path, "room_id") == set()  # not written yet
    _append(spark, path, ["a", "b", None])
    assert refs.known(spark, path, "room_id") == {"a", "b"}
    _append(spark, path, ["c"])
    _append(spark, path, ["d"])
    assert refs.known(spark, path, "room_id") == {"a", "b", "c", "d"}
    assert refs.full_reads == 1  # the two appends were read from their files alone
    # A delete is no append: the table is read again and the key is gone.
    DeltaTable.forPath(spark, str(path)).delete("room_id = 'a'")
    assert refs.known(spark, path, "room_id") == {"b", "c", "d"}
    assert refs.full_reads == 2


def test_a_partition_column_key_comes_from_the_log(spark, tmp_path):
    path = tmp_path / "rooms_by_id"
    refs = ReferenceKeys()
    _append(spark, path, ["r 1"], partition_by=("room_id",))
    assert refs.known(spark, path, "room_id") == {"r 1"}
    _append(spark, path, ["r/2", "r%3"], partition_by=("room_id",))
    assert refs.known(spark, path, "room_id") == {"r 1", "r/2", "r%3"}
    assert refs.full_reads == 1


def test_unknown_values_counts_rows_neither_known_nor_arriving(spark):
    df = spark.createDataFrame([("a",), ("a",), ("b",), ("c",), (None,)], "room_id string")
    assert unknown_values(df, "room_id", {"a"}) == (4, 2)
    assert unknown_values(df, "room_id", {"a"}, arriving={"c"}) == (4, 1)
    assert unknown_values(df.where("room_id is null"), "room_id", set()) == (0, 0)
