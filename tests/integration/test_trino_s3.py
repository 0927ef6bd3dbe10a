"""Trino 476 reads Delta tables Spark wrote to an s3a:// lake on the embedded s3proxy, through its
native S3 filesystem: the catalog of gamelake.runtime.trino_catalog, the tables registered by
`gamelake trino register`'s code, the key pair only in the processes' environments.

Its own s3proxy (port 19440), Trino (18440, 512 MB heap) and state folder, beside the shared
stack; every process it starts is stopped at the end, also on failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gamelake import trino_client
from gamelake.config import Settings, load_settings
from gamelake.runtime import process, s3, trino, trino_auth
from gamelake.spark import submit_env, write_submit_properties
from tests.integration.s3_store import running_s3proxy

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

S3_PORT, TRINO_PORT = 19440, 18440
ROWS = 1000

# A partitioned silver table and a small gold one, written by a local Spark through S3A.
JOB = """
import sys
from pyspark.sql import SparkSession, functions as F

lake = sys.argv[1]
spark = SparkSession.builder.getOrCreate()
spark.range({rows}).withColumn("kind", F.col("id") % 5).write.format("delta") \\
    .partitionBy("kind").save(lake + "/silver/tiny")
spark.range(3).write.format("delta").save(lake + "/gold/few")
spark.stop()
"""


def _private(settings: Settings, state: Path) -> Settings:
    return load_settings(
        settings.env,
        settings.paths.root,
        {
            "paths": {
                "state": str(state),
                "lake": "s3a://gamelake/lake",
                "checkpoints": "s3a://gamelake/checkpoints",
            },
            "s3": {"bucket": "gamelake", "port": S3_PORT, "embedded": True, "heap_mb": 256},
            "spark": {"master": "local[1]", "driver_memory": "1g"},
            "trino": {"port": TRINO_PORT, "heap_mb": 512, "query_max_memory_mb": 128,
                      "start_timeout_s": 300},
        },
    )  # fmt: skip


def _write_tables(private: Settings, env: dict[str, str], work: Path) -> None:
    job = work / "write_tiny.py"
    job.write_text(JOB.format(rows=ROWS))
    props = write_submit_properties(private, work / "s3.conf")
    log = work / "spark.log"
    with open(log, "wb") as out:
        done = subprocess.run(
            [str(Path(sys.executable).parent / "spark-submit"), "--properties-file", str(props),
             str(job), str(private.paths.lake)],
            env=submit_env(env, private.spark.master), stdout=out, stderr=out, timeout=600,
        )  # fmt: skip
    assert done.returncode == 0, log.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def s3_lake(settings: Settings, tmp_path_factory):
    """s3proxy with a lake of two tables Spark wrote over S3A, and a Trino on it, healthy."""
    work = tmp_path_factory.mktemp("trino-s3")
    private = _private(settings, work / "state")
    creds = s3.credentials({}, private.s3)  # the embedded store's test pair
    env = {**os.environ, **creds.as_env()}
    handle = trino.handle(private)
    with running_s3proxy(private, creds):
        try:
            # Trino starts in the background while Spark writes the tables.
            trino_started = time.monotonic()
            trino.start(private, env)
            started = time.monotonic()
            _write_tables(private, env, work)
            print(f"spark-submit wrote the tables in {time.monotonic() - started:.1f}s")
            cert = trino_auth.cert_file(private.trino.auth_dir)
            process.wait_until(
                lambda: trino.is_healthy(private.trino.url, cert), private.trino.start_timeout_s,
                alive=lambda: handle.pid() is not None, what="trino", log_file=handle.log_file,
            )  # fmt: skip
            print(f"Trino healthy {time.monotonic() - trino_started:.1f}s after its start")
            yield private, creds
        finally:
            process.stop(handle)
            assert handle.pid() is None, "Trino still running after stop"


def test_register_and_query_the_s3_lake_through_trino(s3_lake, monkeypatch):
    private, creds = s3_lake
    # `gamelake trino register` lists the lake with the key pair of its environment.
    for key, value in creds.as_env().items():
        monkeypatch.setenv(key, value)
    started = time.monotonic()
    new = trino_client.register_lake(private)
    print(f"registered {new} in {time.monotonic() - started:.1f}s")
    assert {"silver.tiny", "gold.few"} <= set(new)
    assert trino_client.register_lake(private) == []  # idempotent

    conn = trino_client.connect(private.trino)
    rows = trino_client.run(conn, "select kind, count(*) from silver.tiny group by 1 order by 1")
    assert rows.rows == [(k, ROWS // 5) for k in range(5)]
    assert trino_client.run(conn, "select count(*) from gold.few").rows == [(3,)]
    location = trino_client.run(
        conn, "select distinct regexp_replace(\"$path\", '/kind=.*', '') from silver.tiny"
    ).rows
    assert location == [("s3://gamelake/lake/silver/tiny",)]


def test_a_catalog_made_with_create_catalog_reads_s3_with_env_credentials(s3_lake):
    """`${ENV:...}` is expanded in CREATE CATALOG too (the tests' per-lake catalogs); with the
    literal text as the key, every S3 request would be refused."""
    private, creds = s3_lake
    conn = trino_client.connect(private.trino)
    trino_client.create_lake_catalog(conn, "s3check", private.paths.lake, private.s3)
    try:
        trino_client.run(conn, "create schema if not exists s3check.silver")
        trino_client.register_table(conn, "s3check", "silver", "tiny",
                                    "s3a://gamelake/lake/silver/tiny")  # fmt: skip
        assert trino_client.run(conn, "select count(*) from s3check.silver.tiny").rows == [(ROWS,)]
    finally:
        trino_client.drop_catalog(conn, "s3check")
    # No secret lands in Trino's etc/ (nor in the dynamic catalog store, if it writes there).
    etc = trino.trino_dir(private) / "etc"
    for f in etc.rglob("*"):
        if f.is_file():
            assert creds.secret_key not in f.read_text(errors="replace"), f
