"""The one SparkSession builder for every job, and the same settings as a spark-submit file."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from gamelake.config import S3Settings, Settings
from gamelake.runtime.artifacts import Layout, uses_s3a

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

LOOPBACK = "127.0.0.1"
LOOPBACK_HOSTS = (LOOPBACK, "localhost")


def runs_on_loopback(master: str) -> bool:
    """True for a local master and for a standalone master on this machine's loopback."""
    return master.startswith("local") or any(
        master.startswith(f"spark://{host}:") for host in LOOPBACK_HOSTS
    )


def s3a_conf(s3: S3Settings) -> dict[str, str]:
    """The S3A properties of the profile's object store; credentials from the environment."""
    return {
        "spark.hadoop.fs.s3a.endpoint": s3.endpoint,
        "spark.hadoop.fs.s3a.endpoint.region": s3.region,
        "spark.hadoop.fs.s3a.path.style.access": str(s3.path_style).lower(),
        "spark.hadoop.fs.s3a.connection.ssl.enabled": str(s3.secure).lower(),
        # AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY of the driver (and of the workers, whose
        # environment the executors inherit): no key in any properties file.
        "spark.hadoop.fs.s3a.aws.credentials.provider": (
            "software.amazon.awssdk.auth.credentials.EnvironmentVariableCredentialsProvider"
        ),
    }


# Settings every profile shares: logging, time zone, code cache, JSON keys, stream state, Delta
# writes. A profile's spark.extra overrides any of them.
TUNING: dict[str, str] = {
    # Stage progress bars are carriage-return noise in a job's log; batches log themselves.
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    # A gated silver micro-batch generates ~260 classes (nine families' plans and their
    # rules): with the default cache of 100, ~255 were compiled again every batch
    # (CodegenMetrics); with 1000, ~23 (the batch's own literals).
    "spark.sql.codegen.cache.maxEntries": "1000",
    # HotSpot never JIT-compiles a method over 8,000 bytes of bytecode: the silver batch's
    # plans generated five such methods (12-17 kB), interpreted on every row. At 8,000 Spark
    # runs those subtrees without whole-stage codegen instead, as its tuning guide advises
    # on HotSpot (docs/hot-path.md: a 100k-row batch faster in 7 of 8 interleaved pairs).
    "spark.sql.codegen.hugeMethodLimit": "8000",
    # JSON with a repeated key: the last one wins, as in most JSON parsers.
    "spark.sql.mapKeyDedupPolicy": "LAST_WIN",
    "spark.sql.variant.allowDuplicateKeys": "true",
    # Stream state (re-send dedup, gold windows) in RocksDB, off the JVM heap: in the
    # default in-memory store a 10M-event backlog's event ids outgrew a 2 GB driver.
    # A checkpoint keeps the store it was started with.
    "spark.sql.streaming.stateStore.providerClass": (
        "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
    ),
    "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
    "spark.sql.streaming.stateStore.rocksdb.boundedMemoryUsage": "true",
    "spark.sql.streaming.stateStore.rocksdb.maxMemoryUsageMB": "256",
    # Streams append small batches: coalesce files on write and compact behind them.
    "spark.databricks.delta.optimizeWrite.enabled": "true",
    "spark.databricks.delta.autoCompact.enabled": "true",
    # Unset, Delta 4.4 counts every file as small, so once a partition holds 50 files of
    # any size, each append runs a compaction that finds one small file to merge.
    # Half the compaction target (128 MB), Delta's own default for the bin size.
    "spark.databricks.delta.autoCompact.minFileSize": str(64 * 1024 * 1024),
    # Compact a table once one of its partitions holds minNumFiles small files. Delta 4.4's
    # default mode ("modified partitions only") compacts a partition it has "not compacted
    # yet", which it decides from small-file counts kept in memory from this process's own
    # commits: files written before the process started are not counted, so compacting them
    # brings the count to zero, the partition is forgotten, and it is "not compacted yet"
    # again. Every append to a table from an earlier run (every restart, every stream after
    # a --once) was then followed by an OPTIMIZE that rewrote the partition's small files,
    # i.e. all of it until its files reach minFileSize: a per-batch cost growing with the
    # table. 30 appends: 30 compactions, 1.57 s an append; with this, 1 compaction, 0.29 s.
    "spark.databricks.delta.autoCompact.modifiedPartitionsOnly.enabled": "false",
    "spark.databricks.delta.autoCompact.minNumFiles": "50",
    # A checkpoint (2.5-4 s here) every 10 commits is a tax of ~0.3 s per micro-batch
    # commit; 50 (Snowplow's loader's choice) keeps the log replay short for readers.
    # Applies to tables created from now on.
    "spark.databricks.delta.properties.defaults.checkpointInterval": "50",
}


# Spark lower-cases a text holding any non-ASCII character in the JVM's default locale: in a
# Turkish one "API_KEY" becomes "apı_key", and bronze's secret hints would miss the key. Every
# Spark JVM folds case in one locale, whatever the machine's.
JVM_LOCALE = "-Duser.language=en -Duser.country=US"
# The throughput collector, not G1: a micro-batch wants the most rows per CPU second and can
# wait out a pause, and on two cores G1's concurrent marking and write barriers are paid from
# the same cores as the rows. `bench ingest --one-app`, 1M events, alternating: silver 79.8 /
# 77.4 s against 87.9 / 84.3 s with G1, and a lower peak RSS (docs/hot-path.md).
JVM_GC = "-XX:+UseParallelGC"
JVM_OPTIONS = f"{JVM_LOCALE} {JVM_GC}"


def spark_conf(settings: Settings, app_name: str) -> dict[str, str]:
    """Spark properties for `app_name` under this profile: Delta, explicit jars, sizes."""
    s = settings.spark
    s3a = uses_s3a(settings)
    jars = Layout(settings.paths, settings.versions).spark_jar_paths(s3a=s3a)
    log4j = settings.paths.conf / "spark" / "log4j2.properties"
    conf = {
        "spark.master": s.master,
        "spark.app.name": app_name,
        # Explicit paths resolved by Maven at setup: nothing is downloaded at run time.
        "spark.jars": ",".join(str(j) for j in jars),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.driver.memory": s.driver_memory,
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{log4j} {JVM_OPTIONS}",
        "spark.executor.extraJavaOptions": JVM_OPTIONS,
        "spark.sql.shuffle.partitions": str(s.shuffle_partitions),
        # A file listing (VACUUM's, partition discovery) otherwise runs as one job of up to
        # 10,000 tasks: 53 s instead of 16 s for a test VACUUM of a few small tables.
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": str(s.shuffle_partitions),
        "spark.ui.enabled": str(s.ui_enabled).lower(),
        **TUNING,
        # Executors and the driver run this interpreter, which has gamelake installed.
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
    }
    if runs_on_loopback(s.master):
        # Driver RPC and block manager on loopback: a local run (or a cluster on loopback)
        # serves nobody else. (The UI, off in the local profiles, binds SPARK_LOCAL_IP or every
        # interface.)
        conf["spark.driver.host"] = conf["spark.driver.bindAddress"] = LOOPBACK
    if s3a and settings.s3 is not None:
        conf.update(s3a_conf(settings.s3))
    conf.update(s.extra)
    return conf


def write_submit_properties(settings: Settings, path: Path, app_name: str = "gamelake") -> Path:
    """Write spark_conf as a file for `spark-submit --properties-file`; returns its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conf = spark_conf(settings, app_name)
    conf.pop("spark.app.name")  # spark-submit names the app after the job file
    lines = [f"# written by `gamelake spark-conf` for profile {settings.env!r}; do not edit"]
    lines += [f"{key} {value}" for key, value in sorted(conf.items())]
    # Whole or not at all: a spark-submit starting beside this one reads the same file.
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text("\n".join(lines) + "\n")
    partial.replace(path)
    return path


def submit_properties_path(settings: Settings) -> Path:
    return settings.paths.home / "spark" / f"{settings.env}.conf"


def submit_env(base: dict[str, str], master: str | None = None) -> dict[str, str]:
    """`base` environment plus what spark-submit needs to find this interpreter's pyspark
    (and, for a master on this machine's loopback, the loopback address as Spark's own)."""
    import pyspark

    env = dict(base)
    if master is not None and runs_on_loopback(master):
        # Spark otherwise picks the first non-loopback interface for what the conf does not
        # bind (the UI), and warns that the hostname resolves to loopback on every submit.
        env.setdefault("SPARK_LOCAL_IP", LOOPBACK)
    env["SPARK_HOME"] = str(Path(pyspark.__file__).parent)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def build_session(settings: Settings, app_name: str) -> SparkSession:
    """A SparkSession with Delta and the Kafka source (reuses one spark-submit created)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for key, value in spark_conf(settings, app_name).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


@contextlib.contextmanager
def session_conf(spark: SparkSession, values: Mapping[str, str]) -> Iterator[None]:
    """`values` set in `spark`'s SQL conf for the block; the previous values (or unset) after."""
    before = {key: spark.conf.get(key, None) for key in values}
    for key, value in values.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def submit_command(settings: Settings, job: str, job_args: list[str]) -> list[str]:
    """The spark-submit command line for jobs/<job>.py under this profile."""
    from gamelake.errors import GamelakeError

    job_file = settings.paths.root / "jobs" / f"{job}.py"
    if not job_file.is_file():
        known = sorted(p.stem for p in (settings.paths.root / "jobs").glob("[a-z]*.py"))
        raise GamelakeError(f"no job {job!r}", fix=f"choose one of: {', '.join(known)}")
    props = write_submit_properties(settings, submit_properties_path(settings))
    spark_submit = Path(sys.executable).parent / "spark-submit"
    return [
        str(spark_submit),
        "--properties-file",
        str(props),
        str(job_file),
        "--env",
        settings.env,
        *job_args,
    ]


def local_checkpoint(df: DataFrame) -> DataFrame:
    """`df`'s rows, computed now and kept in the block stores, as a leaf: later plans over it
    are analysed, optimised and matched against Spark's cache without `df`'s own plan. Free
    them with `release`."""
    return df.localCheckpoint(eager=True)


def release(df: DataFrame) -> None:
    """Free what `df` keeps: its cache, or the blocks of a `local_checkpoint`. Spark frees the
    latter only when the driver's garbage collector lets its cleaner see the frame is gone,
    so a stream would hold several batches' rows meanwhile."""
    df.unpersist()
    plan = df._jdf.queryExecution().logical()
    # LogicalRDD is the plan localCheckpoint returns; its RDD holds the blocks.
    if plan.nodeName() == "LogicalRDD":
        plan.rdd().unpersist(False)
