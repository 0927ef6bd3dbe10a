"""The embedded object store for real: s3proxy from gamelake.runtime.s3 on its own port and
state folder checks signatures, holds objects put and listed through pyarrow's S3 client, and
holds a Delta table Spark writes to and reads back from s3a:// with the profile's own
properties file (the s3a jars and fs.s3a.* keys spark_conf derives)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gamelake.config import Settings, load_settings
from gamelake.runtime import s3
from gamelake.spark import submit_env, write_submit_properties
from tests.integration.s3_store import running_s3proxy

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

PORT = 19400
BUCKET = "gl-h1-test"
# Not the test pair of the CLI: this server is private to the test.
CREDS = s3.Credentials("h1-test-access", "h1-test-secret")

JOB = """
import json, sys
from pyspark.sql import SparkSession, functions as F

spark = SparkSession.builder.getOrCreate()
table = sys.argv[1]
rows = spark.range(1000).withColumn("part", F.col("id") % 3)
rows.write.format("delta").partitionBy("part").mode("overwrite").save(table)
spark.range(1000, 1010).withColumn("part", F.lit(0).cast("long")).write.format("delta").mode("append").save(table)
back = spark.read.format("delta").load(table)
history = spark.sql(f"describe history delta.`{table}`").select("version").collect()
print("RESULT " + json.dumps({
    "rows": back.count(),
    "parts": sorted(r.part for r in back.select("part").distinct().collect()),
    "versions": sorted(r.version for r in history),
}))
spark.stop()
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Settings:
    """A running s3proxy on PORT with the bucket, serving a folder of this test's own."""
    state = tmp_path_factory.mktemp("s3-state")
    settings = load_settings("test", overrides={
        "paths": {"state": str(state), "lake": f"s3a://{BUCKET}/lake",
                  "checkpoints": f"s3a://{BUCKET}/checkpoints"},
        "spark": {"master": "local[1]", "driver_memory": "768m"},
        "s3": {"bucket": BUCKET, "port": PORT, "embedded": True, "heap_mb": 192},
    })  # fmt: skip
    with running_s3proxy(settings, CREDS):
        yield settings


def _fs(secret: str = CREDS.secret_key):
    from pyarrow import fs

    return fs.S3FileSystem(
        access_key=CREDS.access_key,
        secret_key=secret,
        endpoint_override=f"{s3.BIND_HOST}:{PORT}",
        scheme="http",
        region="us-east-1",
    )


def test_a_wrong_secret_is_refused(store):
    from pyarrow import fs

    with pytest.raises(OSError, match="SIGNATURE_DOES_NOT_MATCH"):
        _fs("not-the-secret").get_file_info(fs.FileSelector(BUCKET))


def test_objects_put_are_listed_and_read_back(store):
    from pyarrow import fs

    s3fs = _fs()
    for name, body in (("probe/a.txt", b"one"), ("probe/b/c.txt", b"two")):
        with s3fs.open_output_stream(f"{BUCKET}/{name}") as out:
            out.write(body)
    listed = s3fs.get_file_info(fs.FileSelector(f"{BUCKET}/probe", recursive=True))
    files = {i.path: i.size for i in listed if i.type == fs.FileType.File}
    assert files == {f"{BUCKET}/probe/a.txt": 3, f"{BUCKET}/probe/b/c.txt": 3}
    with s3fs.open_input_stream(f"{BUCKET}/probe/b/c.txt") as src:
        assert src.read() == b"two"
    # The filesystem backend: a bucket is a folder of the store's state, an object a file.
    assert (s3.data_dir(store) / BUCKET / "probe" / "a.txt").read_bytes() == b"one"


def test_spark_writes_and_reads_a_delta_table_on_s3a(store, tmp_path):
    props = write_submit_properties(store, tmp_path / "s3.conf")
    text = props.read_text()
    assert "jars/s3a/hadoop-aws-" in text and f"fs.s3a.endpoint http://127.0.0.1:{PORT}" in text
    assert CREDS.secret_key not in text  # credentials only in the environment
    job = tmp_path / "s3_job.py"
    job.write_text(JOB)
    table = f"s3a://{BUCKET}/lake/t"
    cmd = [str(Path(sys.executable).parent / "spark-submit"), "--properties-file", str(props),
           str(job), table]  # fmt: skip
    env = submit_env({**os.environ, **CREDS.as_env()}, store.spark.master)
    started = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1].splitlines()[0])
    print(f"spark-submit on s3a: {time.monotonic() - started:.1f}s")
    assert result == {"rows": 1010, "parts": [0, 1, 2], "versions": [0, 1]}

    from pyarrow import fs

    log = _fs().get_file_info(fs.FileSelector(f"{BUCKET}/lake/t/_delta_log"))
    commits = sorted(i.base_name for i in log if i.base_name.endswith(".json"))
    assert commits == ["00000000000000000000.json", "00000000000000000001.json"]


def test_stack_runs_the_store_of_an_embedded_profile_only(tmp_path, monkeypatch):
    """`gamelake up/status/down` wiring: s3proxy is a service of this profile, signed with the
    AWS_* pair of the environment (here unset: the embedded store's test pair)."""
    from gamelake.runtime import stack

    for var in CREDS.as_env():
        monkeypatch.delenv(var, raising=False)
    overrides = {"paths": {"state": str(tmp_path)}, "s3": {"bucket": BUCKET, "port": PORT + 1}}
    local = load_settings("test", overrides=overrides)
    assert "s3proxy" not in [s.name for s in stack.status(local)]
    settings = load_settings(
        "test", overrides={**overrides, "s3": {**overrides["s3"], "embedded": True}}
    )
    try:
        seconds = stack.up(settings, ["s3proxy"])["s3proxy"]
        print(f"stack.up s3proxy: {seconds:.1f}s")
        [row] = [s for s in stack.status(settings) if s.name == "s3proxy"]
        assert row.healthy and row.port == PORT + 1 and row.rss_mb
        props = (tmp_path / "s3proxy" / "s3proxy.conf").read_text()
        assert f"s3proxy.credential={s3.TEST_CREDENTIALS.secret_key}" in props
    finally:
        stopped = stack.down(settings, ["s3proxy"])
    assert stopped == ["s3proxy"] and s3.handle(settings).pid() is None
