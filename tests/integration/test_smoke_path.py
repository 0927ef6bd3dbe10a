"""Smoke path: kafka-python -> Kafka -> jobs/bronze.py (spark-submit) -> Delta -> Trino."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid

import pytest

from gamelake import kafka_io, trino_client
from gamelake.conventions import table_path
from gamelake.spark import submit_command, submit_env
from tests.kafka_records import produce

pytestmark = pytest.mark.integration


def test_records_produced_to_kafka_come_back_through_trino(services, trino_conn):
    settings = services
    run_id = uuid.uuid4().hex[:10]
    prefix = f"glsmoke{run_id}."
    topic = f"{prefix}smoke"
    # A private lake area inside the profile's lake, so Trino can read it.
    area = settings.paths.lake / "_tests" / f"smoke_{run_id}"
    table = f"smoke_{run_id}"
    values = [json.dumps({"n": i, "run": run_id, "name": f"plåyer {i}"}) for i in range(7)]
    catalog = settings.trino.catalog
    try:
        kafka_io.create_topics(settings.kafka.bootstrap_servers, [topic], 2, 1)
        sent = produce(
            settings.kafka.bootstrap_servers,
            [(topic, f"k{i}".encode(), v.encode()) for i, v in enumerate(values)],
        )
        assert sent == len(values)

        cmd = submit_command(
            settings, "bronze",
            ["--once", "--topic-prefix", prefix, "--lake", str(area / "lake"),
             "--checkpoint-root", str(area / "checkpoints")],
        )  # fmt: skip
        done = subprocess.run(
            cmd, env=submit_env(dict(os.environ)), capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr[-3000:]

        location = trino_client.trino_location(
            settings.paths.lake, table_path(area / "lake", "bronze", "events")
        )
        assert trino_client.register_table(trino_conn, catalog, "bronze", table, location)
        # Registering again is harmless.
        assert not trino_client.register_table(trino_conn, catalog, "bronze", table, location)
        result = trino_client.run(
            trino_conn,
            f"select from_utf8(value), from_utf8(kafka_key), family, topic "
            f"from {catalog}.bronze.{table}",
        )
        assert sorted(r[0] for r in result.rows) == sorted(values)
        assert sorted(r[1] for r in result.rows) == sorted(f"k{i}" for i in range(7))
        assert {(r[2], r[3]) for r in result.rows} == {("smoke", topic)}
    finally:
        if _registered(trino_conn, catalog, table):
            trino_client.run(
                trino_conn,
                f"call {catalog}.system.unregister_table("
                f"schema_name => 'bronze', table_name => '{table}')",
            )
        shutil.rmtree(area, ignore_errors=True)
        kafka_io.delete_topics_with_prefix(settings.kafka.bootstrap_servers, prefix)


def _registered(conn, catalog: str, table: str) -> bool:
    return bool(
        trino_client.run(
            conn,
            f"select 1 from {catalog}.information_schema.tables "
            f"where table_schema = 'bronze' and table_name = '{table}'",
        ).rows
    )
