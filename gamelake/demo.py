"""`gamelake demo`: the main job end to end on the embedded stack, printed for a person.

Today: up -> topics -> produce the seed-000 sample events -> bronze job through spark-submit
-> register in Trino -> the records read back through Trino.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
from pathlib import Path

from rich.console import Console

from gamelake import kafka_io, trino_client
from gamelake.config import Settings
from gamelake.display import print_result
from gamelake.errors import GamelakeError
from gamelake.pipeline import load_pipeline_conf
from gamelake.runtime import stack
from gamelake.spark import submit_command, submit_env

log = logging.getLogger(__name__)


def sample_records(path: Path, topic_prefix: str) -> list[tuple[str, bytes, bytes]]:
    """(topic, key, value) records from a JSONL of {"family", "key", "value"} lines."""
    records = []
    for line in path.read_text().splitlines():
        if line.strip():
            item = json.loads(line)
            records.append(
                (
                    f"{topic_prefix}{item['family']}",
                    str(item["key"]).encode(),
                    json.dumps(item["value"], separators=(",", ":")).encode(),
                )
            )
    return records


def run(settings: Settings, console: Console) -> None:
    pipeline = load_pipeline_conf(settings.paths.conf)
    console.rule("1/5 services")
    stack.up(settings)

    console.rule("2/5 produce sample events to Kafka")
    records = sample_records(settings.paths.conf / "demo" / "seed_000.jsonl", pipeline.topic_prefix)
    kafka_io.create_topics(
        settings.kafka.bootstrap_servers,
        [topic for topic, _, _ in records],
        pipeline.topic_partitions,
        pipeline.topic_retention_hours,
    )
    # Kafka record timestamps are the producer's clock: this run's records are those after it.
    since = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=1)
    sent = kafka_io.produce(settings.kafka.bootstrap_servers, records)
    log.info("produced %d records", sent)

    console.rule("3/5 bronze job (spark-submit, --once)")
    cmd = submit_command(settings, "bronze", ["--once"])
    log.info("$ %s", " ".join(cmd))
    if subprocess.run(cmd, env=submit_env(dict(os.environ))).returncode != 0:
        raise GamelakeError("the bronze job failed", fix="read its output above")

    console.rule("4/5 register lake tables in Trino")
    new = trino_client.register_lake(settings)
    log.info("registered: %s", ", ".join(new) if new else "all tables were registered already")

    console.rule("5/5 read back through Trino")
    conn = trino_client.connect(settings.trino)
    result = trino_client.run(
        conn,
        f"""
        select family, kafka_partition, kafka_offset, from_utf8(value) as record
        from {settings.trino.catalog}.bronze.{pipeline.bronze_table}
        where kafka_ts >= timestamp '{since:%Y-%m-%d %H:%M:%S} UTC'
        order by family, kafka_partition, kafka_offset
        """,
    )
    print_result(console, result, title=f"bronze.{pipeline.bronze_table}: this run's records")
    if len(result.rows) != sent:
        raise GamelakeError(f"produced {sent} records but Trino shows {len(result.rows)}")
    console.print(f"[green]demo ok:[/green] {sent} records Kafka -> Spark/Delta -> Trino")
