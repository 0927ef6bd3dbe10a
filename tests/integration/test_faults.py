"""Fault injection on the real stack: what survives a crash, a broker or Trino restart, a lake
that stops being writable, and hostile input.

`make test-faults` runs the tests marked `faults` (about 25 minutes on 2 cores);
`make test` skips them to stay inside CI's time budget, and runs the one crash test that is
cheap: a SIGKILL in the middle of the shared `lake_run`'s silver stage.

(a) replays a 200k-event run of its own, killed ten times, against that run done cleanly;
(b) and (d) replay the shared `lake_run`'s topics into private lakes (stages bronze,silver)
and compare with it. (b) broker and (c) Trino stop shared services: do not run them beside
anyone else's work on the same stack (`pgrep -fa pytest`).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from gamelake import kafka_io, trino_client
from gamelake.contracts import load_contracts
from gamelake.conventions import table_path
from gamelake.generator import GeneratorOptions, generate
from gamelake.runtime import stack
from gamelake.spark import submit_command
from tests.faults_corpus import hostile_values
from tests.integration.conftest import LAKE_RUN_EVENTS, LAKE_RUN_OPTIONS, LakeRun
from tests.integration.jobrun import kill, run_to_end, start, wait_for_log
from tests.integration.lake_compare import assert_same_lake, delta_tables
from tests.kafka_records import produce

pytestmark = pytest.mark.integration

STAGES = ["--stages", "bronze,silver"]
# An outage of the broker, or the lake turning read-only, lands mid-bronze: small Kafka
# reads (about 20 bronze batches); silver then takes the profile's micro-batches.
SMALL_KAFKA_READS = ["--max-offsets-per-trigger", "300"]
KILLS = 10


# --- (a) SIGKILL the driver at random points of a 200k-event run -------------------------------

KILL_RUN_EVENTS = 200_000
# The killed run's bites: 2 bronze micro-batches, then one bronze file (a few thousand events)
# per silver micro-batch, 20-40 of them. A life commits one or two (a silver batch costs at
# least ~5 s of commits here), so the run outlasts the ten kills on a fast machine too.
KILL_RUN_BATCHES = ["--max-offsets-per-trigger", "100000", "--max-files-per-trigger", "1"]
# A micro-batch done, as the job logs it: the listener's "<query> batch N: R rows in M ms"
# once Spark committed it, or silver's "silver batch N: R rows in, ..." once its tables are
# written, just before Spark commits the batch.
_COMMITTED = re.compile(r"\b(\w+) batch \d+: \d+ rows in")


@pytest.fixture(scope="module")
def run_200k(services):
    """200k generated events (late, duplicate and malformed ones among them) in private
    topics, and their clean bronze+silver run in the profile's own micro-batches."""
    settings = services
    contracts = load_contracts(settings.paths.conf / "contracts")
    run_id = uuid.uuid4().hex[:8]
    run = LakeRun(run_id, settings, contracts, [], f"glkill{run_id}.",
                  settings.paths.lake / "_tests" / f"kill-{run_id}", catalog="")  # fmt: skip
    bootstrap = settings.kafka.bootstrap_servers
    kafka_io.create_topics(bootstrap, [run.prefix + f for f in contracts], partitions=2,
                           retention_hours=2)  # fmt: skip
    try:
        records = generate(contracts, GeneratorOptions(events=KILL_RUN_EVENTS, **LAKE_RUN_OPTIONS))
        sent = produce(bootstrap, ((run.prefix + r.family, r.key, r.value) for r in records))
        assert sent >= KILL_RUN_EVENTS
        run_to_end(run.pipeline_command(run.lake, run.checkpoints, *STAGES), run.area / "clean.log")
        yield run
    finally:
        kafka_io.delete_topics_with_prefix(bootstrap, run.prefix)
        shutil.rmtree(run.area, ignore_errors=True)


def wait_for_commit(log: Path, proc: subprocess.Popen, after: int, timeout_s: float = 300) -> bool:
    """True once the job logs a committed micro-batch past byte `after`; False if it ended."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _COMMITTED.search(log.read_text(errors="replace")[after:]):
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.2)
    raise AssertionError(f"no micro-batch committed in {log} after {timeout_s:.0f}s")


@pytest.mark.faults
def test_ten_sigkills_leave_silver_equal_to_a_clean_run(spark, run_200k):
    """Kill the streaming driver KILLS times at random points of a 200k-event run, restart it
    each time, then let it finish: bronze, silver and quarantine equal the clean run's.

    A life is killed while the JVM and streams start, or at a random moment after it has
    committed a micro-batch: early in the next one (reading, parsing) or later (committing
    its tables). Each life but the start-up ones moves the run on, so the kills spread over
    bronze and silver.
    """
    area = run_200k.area / "killed"
    cmd = run_200k.pipeline_command(area / "lake", area / "checkpoints", *STAGES,
                                    *KILL_RUN_BATCHES)  # fmt: skip
    log = area / "job.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(2026)
    where: list[str] = []
    while len(where) < KILLS:
        after = log.stat().st_size if log.exists() else 0
        proc = start(cmd, log)
        point = rng.choices(["start-up", "early", "late"], weights=[1, 2, 2])[0]
        if point == "start-up":
            time.sleep(rng.uniform(2, 10))
        elif wait_for_commit(log, proc, after):
            time.sleep(rng.uniform(0, 3) if point == "early" else rng.uniform(3, 10))
        if proc.poll() is not None:
            assert proc.returncode == 0, log.read_text(errors="replace")[-4000:]
            break
        kill(proc)
        # The stage of the last batch this life committed: where, roughly, it died.
        stages = _COMMITTED.findall(log.read_text(errors="replace")[after:])
        where.append(stages[-1] if stages else "start-up")
    assert len(where) >= KILLS, f"the run finished after {len(where)} kills: {where}"
    assert {"bronze_events", "silver"} <= set(where), where
    # The last restart takes the profile's micro-batches: bounds may change between runs.
    run_to_end(cmd[: -len(KILL_RUN_BATCHES)], log)
    assert_same_lake(spark, run_200k.lake, area / "lake")


# Many silver micro-batches over the shared lake_run's few bronze files.
ONE_FILE_PER_BATCH = ["--max-files-per-trigger", "1"]


def test_a_sigkill_mid_silver_neither_loses_nor_duplicates(spark, lake_run):
    """The cheap crash test `make test` runs: silver over a copy of the shared lake_run's
    bronze, the driver killed at a random moment after silver committed its second
    micro-batch, then restarted to the end."""
    area = lake_run.area / "killed-once"
    # Bronze is done before silver starts (--once runs the stages in turn): the clean run's
    # bronze is that state, so the killed run starts there instead of redoing it.
    shutil.copytree(table_path(lake_run.lake, "bronze", "events"),
                    table_path(area / "lake", "bronze", "events"))  # fmt: skip
    cmd = lake_run.pipeline_command(area / "lake", area / "checkpoints", "--stages", "silver",
                                    *ONE_FILE_PER_BATCH)  # fmt: skip
    log = area / "job.log"
    proc = start(cmd, log)
    try:
        assert wait_for_log(log, "silver batch 1:", proc, 300), "finished before silver batch 1"
        time.sleep(random.Random(7).uniform(0, 4))
        assert proc.poll() is None, "finished before it could be killed"
    finally:
        kill(proc)
    run_to_end(cmd[: -len(ONE_FILE_PER_BATCH)], log)
    assert_same_lake(spark, lake_run.lake, area / "lake")


# --- (d) the lake becomes unwritable ------------------------------------------------------------


def _set_writable(path: Path, writable: bool) -> None:
    """chmod for a normal user; root ignores modes, so the immutable attribute for root."""
    if os.geteuid() == 0:
        flag = "-i" if writable else "+i"
        subprocess.run(["chattr", "-R", flag, str(path)], check=True, capture_output=True)
    else:
        mode = "u+w" if writable else "a-w"
        subprocess.run(["chmod", "-R", mode, str(path)], check=True)


@pytest.mark.faults
def test_unwritable_lake_stops_the_stream_clearly_and_resumes(spark, lake_run):
    area = lake_run.area / "faults-readonly"
    lake = area / "lake"
    cmd = lake_run.pipeline_command(lake, area / "checkpoints", *STAGES, *SMALL_KAFKA_READS)
    log = area / "job.log"
    proc = start(cmd, log)
    try:
        assert wait_for_log(log, "bronze_events batch 1", proc, 300), "finished too soon"
        _set_writable(lake, False)
        try:
            proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            kill(proc)
            pytest.fail("the stream kept running (or hung) on an unwritable lake for 300 s")
        assert proc.returncode != 0, "the job succeeded although the lake was not writable"
        text = log.read_text(errors="replace")
        clues = ("Permission denied", "Operation not permitted", "AccessDenied", "Mkdirs failed",
                 "not writable", "read-only")  # fmt: skip
        assert any(c in text for c in clues), text[-4000:]
    finally:
        _set_writable(lake, True)
        if proc.poll() is None:
            kill(proc)
    # Nothing half-committed: every table reads, every commit is whole JSON, no row twice.
    for layer in ("bronze", "silver", "ops"):
        for name in delta_tables(lake, layer):
            for commit in (table_path(lake, layer, name) / "_delta_log").glob("*.json"):
                for line in commit.read_text().splitlines():
                    json.loads(line)
            spark.read.format("delta").load(str(table_path(lake, layer, name))).count()
    bronze = spark.read.format("delta").load(str(table_path(lake, "bronze", "events")))
    key = ["topic", "kafka_partition", "kafka_offset"]
    assert bronze.select(*key).distinct().count() == bronze.count()
    # Resumes cleanly once writable (in the profile's micro-batches): the clean run's lake.
    run_to_end(cmd[: -len(SMALL_KAFKA_READS)], log)
    assert_same_lake(spark, lake_run.lake, lake)


# --- (e) hostile input ------------------------------------------------------------------------


@pytest.mark.faults
def test_hostile_input_is_all_accounted_for_and_the_stream_survives(spark, services):
    """The generator's malformed records and the hand-written corpus, on fresh topics: every
    Kafka record lands once in silver or in quarantine, and the job ends normally.

    Needs no clean run, so it stands alone (not on lake_run): the generator's output of
    lake_run's options, its malformed records only.
    """
    settings = services
    contracts = load_contracts(settings.paths.conf / "contracts")
    generated = list(generate(contracts, GeneratorOptions(events=LAKE_RUN_EVENTS,
                                                          **LAKE_RUN_OPTIONS)))  # fmt: skip
    run_id = uuid.uuid4().hex[:8]
    prefix = f"glhostile{run_id}."
    bootstrap = settings.kafka.bootstrap_servers
    records: list[tuple[str, bytes | None, bytes]] = [
        (prefix + r.family, r.key, r.value) for r in generated if r.malformed and not r.duplicate
    ]
    assert len(records) > 100
    for family, contract in contracts.items():
        valid = next(json.loads(r.value) for r in generated
                     if r.family == family and not r.malformed and not r.duplicate)  # fmt: skip
        for name, value in hostile_values(contract, valid):
            records.append((prefix + family, f"hostile-{name}".encode(), value))
    kafka_io.create_topics(bootstrap, [prefix + f for f in contracts], partitions=2,
                           retention_hours=2)  # fmt: skip
    area = settings.paths.lake / "_tests" / f"hostile-{run_id}"
    lake = area / "lake"
    try:
        assert produce(bootstrap, records) == len(records)
        cmd = submit_command(settings, "pipeline",
                             ["--once", "--topic-prefix", prefix, "--lake", str(lake),
                              "--checkpoint-root", str(area / "checkpoints"), *STAGES,
                              "--max-offsets-per-trigger", "500"])  # fmt: skip
        run_to_end(cmd, area / "job.log")  # the stream never dies: it ends normally
        _assert_accounted(spark, lake, prefix, contracts, len(records))
    finally:
        kafka_io.delete_topics_with_prefix(bootstrap, prefix)
        shutil.rmtree(area, ignore_errors=True)


def _assert_accounted(spark, lake: Path, prefix: str, contracts, produced: int) -> None:
    """Every bronze record is once in silver (its family's table) or in quarantine."""
    key = ["topic", "kafka_partition", "kafka_offset"]
    bronze = spark.read.format("delta").load(str(table_path(lake, "bronze", "events")))
    assert bronze.count() == produced
    landed = spark.read.format("delta").load(str(table_path(lake, "ops", "quarantine")))
    landed = landed.select(*key, F.lit("quarantine").alias("where"))
    for family in contracts:
        path = table_path(lake, "silver", family)
        if (path / "_delta_log").is_dir():
            rows = spark.read.format("delta").load(str(path))
            landed = landed.unionByName(rows.select(F.lit(prefix + family).alias("topic"),
                                                    "kafka_partition", "kafka_offset",
                                                    F.lit("silver").alias("where")))  # fmt: skip
    joined = bronze.select(*key, F.col("kafka_key").alias("key")).join(landed, key, "left")
    lost = joined.where(F.col("where").isNull())
    assert lost.count() == 0, [
        (r.topic, r.key and bytes(r.key).decode(errors="replace")) for r in lost.collect()[:20]
    ]
    twice = joined.groupBy(*key).count().where("count > 1")
    assert twice.count() == 0, twice.collect()[:20]
    quarantine = spark.read.format("delta").load(str(table_path(lake, "ops", "quarantine")))
    assert quarantine.where(F.col("reason").isNull() | (F.length("reason") == 0)).count() == 0


# --- (b) broker stop and start mid-stream; (c) Trino restart -------------------------------------
# These stop services everyone on the machine shares: see the module docstring.


@pytest.mark.faults
def test_broker_stop_and_start_mid_stream_resumes_exactly(spark, lake_run):
    settings = lake_run.settings
    area = lake_run.area / "faults-broker"
    cmd = lake_run.pipeline_command(
        area / "lake", area / "checkpoints", *STAGES, *SMALL_KAFKA_READS
    )
    log = area / "job.log"
    proc = start(cmd, log)
    try:
        assert wait_for_log(log, "bronze_events batch 1", proc, 300), "finished too soon"
        assert stack.down(settings, ["kafka"]) == ["kafka"]
        time.sleep(20)
    finally:
        stack.up(settings, ["kafka"])
    try:
        proc.wait(timeout=900)
    except subprocess.TimeoutExpired:
        kill(proc)
        pytest.fail("the stream did not finish within 900 s of the broker's return")
    assert proc.returncode == 0, log.read_text(errors="replace")[-4000:]
    assert_same_lake(spark, lake_run.lake, area / "lake")


@pytest.mark.faults
def test_trino_restart_keeps_tables_registered_and_queryable(lake_run):
    settings = lake_run.settings
    tables = [f"silver.{t}" for t in delta_tables(lake_run.lake, "silver")]
    tables += ["ops.quarantine", "bronze.events"]
    before = {t: trino_client.run(lake_run.conn, f"select count(*) from {t}").rows[0][0]
              for t in tables}  # fmt: skip
    try:
        assert "trino" in stack.down(settings, ["trino"])
    finally:
        stack.up(settings, ["trino"])
    conn = trino_client.connect(settings.trino, catalog=lake_run.catalog)
    after = {t: trino_client.run(conn, f"select count(*) from {t}").rows[0][0] for t in tables}
    assert after == before
