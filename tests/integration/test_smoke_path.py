"""Smoke path: kafka-python -> Kafka -> jobs/bronze.py (spark-submit) -> Delta -> Trino."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid

import pytest

from gamelake import kafka_io, trino_client
from gamelake.pipeline import load_pipeline_conf, table_path
from gamelake.spark import submit_command, submit_env

pytestmark = pytest.mark.integration


def test_records_produced_to_kafka_come_back_through_trino(services, trino_conn, tmp_path):
    settings = services
    pipeline = load_pipeline_conf(settings.paths.conf)
    run_id = uuid.uuid4().hex[:10]
    family = f"smoke_{run_id}"
    topic = pipeline.topic_for(family)
    table = f"smoke_{run_id}"
    values = [json.dumps({"n": i, "run": run_id, "name": f"plåyer {i}"}) for i in range(7)]

    kafka_io.create_topics(settings.kafka.bootstrap_servers, [topic], 2, 1)
    sent = kafka_io.produce(
        settings.kafka.bootstrap_servers,
        [(topic, f"k{i}".encode(), v.encode()) for i, v in enumerate(values)],
    )
    assert sent == len(values)

    cmd = submit_command(
        settings,
        "bronze",
        [
            "--once",
            "--topic-pattern", re.escape(topic),
            "--table", table,
            "--checkpoint", str(tmp_path / "checkpoint"),
        ],
    )  # fmt: skip
    done = subprocess.run(
        cmd, env=submit_env(dict(os.environ)), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]

    location = table_path(settings.paths.lake, "bronze", table)
    catalog = settings.trino.catalog
    try:
        assert trino_client.register_table(
            trino_conn,
            catalog,
            "bronze",
            table,
            trino_client.trino_location(settings.paths.lake, location),
        )
        # Registering again is harmless.
        assert not trino_client.register_table(
            trino_conn,
            catalog,
            "bronze",
            table,
            trino_client.trino_location(settings.paths.lake, location),
        )
        result = trino_client.run(
            trino_conn,
            f"select from_utf8(value), from_utf8(kafka_key), family, topic "
            f"from {catalog}.bronze.{table}",
        )
        assert sorted(r[0] for r in result.rows) == sorted(values)
        assert sorted(r[1] for r in result.rows) == sorted(f"k{i}" for i in range(7))
        assert {(r[2], r[3]) for r in result.rows} == {(family, topic)}
    finally:
        trino_client.run(
            trino_conn,
            f"call {catalog}.system.unregister_table("
            f"schema_name => 'bronze', table_name => '{table}')",
        )
        shutil.rmtree(location, ignore_errors=True)
