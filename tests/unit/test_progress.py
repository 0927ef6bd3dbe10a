"""The progress recorder on a real (tiny) stream: every finished micro-batch is recorded."""

from __future__ import annotations

from gamelake.conventions import table_path
from gamelake.progress import PROGRESS_TABLE, ProgressRecorder


def test_every_batch_of_a_finished_query_reaches_stream_progress(spark, tmp_path):
    source = tmp_path / "source"
    for i in range(3):
        spark.range(i * 10, i * 10 + 10).coalesce(1).write.format("delta").mode("append").save(
            str(source)
        )
    recorder = ProgressRecorder()
    spark.streams.addListener(recorder)
    try:
        query = (
            spark.readStream.format("delta").option("maxFilesPerTrigger", "1").load(str(source))
            .writeStream.format("delta").option("checkpointLocation", str(tmp_path / "ck"))
            .queryName("bronze_events").trigger(availableNow=True).start(str(tmp_path / "out"))
        )  # fmt: skip
        query.awaitTermination()
        # The listener bus is asynchronous: the last batch's event may still be on its way.
        assert recorder.caught_up(query)
        assert recorder.flush(spark, tmp_path / "lake") == 3
    finally:
        spark.streams.removeListener(recorder)
    rows = spark.read.format("delta").load(
        str(table_path(tmp_path / "lake", "ops", PROGRESS_TABLE))
    )
    assert sorted((r.batch_id, r.rows_in) for r in rows.collect()) == [(0, 10), (1, 10), (2, 10)]
