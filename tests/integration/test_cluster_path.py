"""Issue 22's acceptance, end to end on the scale-out stack `gamelake up` starts for
GAMELAKE_ENV=cluster-local: 200k generated events in a two-broker Kafka; `jobs/pipeline.py
--once` submitted to the Spark standalone master (executors in both workers) into an s3a://
lake on s3proxy; every sql/queries question answered by Trino over S3 as the Python oracle
answers it; a worker SIGKILLed mid-silver and the job finishing on the other one with the clean
run's lake; `gamelake maintain optimize` and `vacuum` on S3.

The stack is reused when running (only what this module started is stopped); topics, lakes
and the Trino catalog are private to the run and removed afterwards, also on failure. Each
step's time is printed (`-s` shows it) and written to `times.txt` beside the jobs' logs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from gamelake import kafka_io, lakefs, trino_client
from gamelake.config import Settings, load_settings, project_root
from gamelake.contracts import load_contracts
from gamelake.conventions import find_delta_tables, load_pipeline_conf
from gamelake.generator import GeneratorOptions, generate
from gamelake.queries import list_queries
from gamelake.runtime import s3, spark_cluster, stack
from gamelake.spark import LOOPBACK
from tests.integration.conftest import LAKE_RUN_OPTIONS, LakeRun
from tests.integration.jobrun import kill, run_to_end, start, wait_for_log
from tests.integration.lake_compare import assert_same_lake
from tests.integration.s3_store import ensure_optional_jars
from tests.kafka_records import produce
from tests.oracle import ORACLES, World, differences

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

EVENTS = 200_000
QUERIES = list_queries(project_root() / "sql")
# Silver's first micro-batch of the backlog takes minutes on the cluster: a worker killed this
# long after the silver stream started dies while its executor runs silver's tasks.
KILL_AFTER_SILVER_START_S = 20
JOB_TIMEOUT_S = 3600
# Seconds per step, printed at the end.
TIMES: dict[str, float] = {}


@contextlib.contextmanager
def timed(step: str):
    """Nothing: times the block into TIMES[step] (added up when a step repeats)."""
    started = time.monotonic()
    try:
        yield
    finally:
        TIMES[step] = TIMES.get(step, 0.0) + time.monotonic() - started
        print(f"[cluster path] {step}: {TIMES[step]:.1f}s", flush=True)


@pytest.fixture(scope="module")
def cluster(root):
    """The cluster-local stack, healthy, as `gamelake up` starts it, with the store's key pair
    in this process's environment (the jobs' drivers and pyarrow read it from there)."""
    settings = load_settings("cluster-local", root)
    ensure_optional_jars(settings)
    with pytest.MonkeyPatch.context() as env:
        for key, value in s3.credentials(os.environ, settings.s3).as_env().items():
            env.setenv(key, value)
        env.setenv("SPARK_LOCAL_IP", LOOPBACK)  # the in-process checker's Spark too
        already = stack.running(settings)
        with timed("stack up"):
            stack.up(settings)
        try:
            yield settings
        finally:
            print("[cluster path] times: " + ", ".join(f"{k} {v:.0f}s" for k, v in TIMES.items()))
            mine = [svc.name for svc in stack.services(settings) if svc.name not in already]
            if mine:
                stack.down(settings, mine)


@dataclasses.dataclass
class ClusterRun:
    """The generated events in their private topics, the clean run's lake, its job logs."""

    lake_run: LakeRun
    logs: Path
    executors: dict[str, int] = dataclasses.field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        return self.lake_run.settings


@pytest.fixture(scope="module")
def events(cluster: Settings, tmp_path_factory):
    """EVENTS generated events (late, duplicate, malformed ones among them) in private topics
    at the profile's replication factor; the run's topics, S3 prefix and catalog go after."""
    settings = cluster
    run_id = uuid.uuid4().hex[:8]
    contracts = load_contracts(settings.paths.conf / "contracts")
    prefix = f"glcluster{run_id}."
    bootstrap = settings.kafka.bootstrap_servers
    area = lakefs.sibling(settings.paths.lake, "_tests") / run_id
    run = LakeRun(run_id, settings, contracts, [], prefix, area, catalog=f"glcluster{run_id}")  # type: ignore[arg-type]
    admin = trino_client.connect(settings.trino)
    logs = tmp_path_factory.mktemp("cluster-path")
    try:
        with timed("generate+produce"):
            run.records = list(generate(contracts, GeneratorOptions(events=EVENTS,
                                                                    **LAKE_RUN_OPTIONS)))  # fmt: skip
            families = sorted({*contracts, *(r.family for r in run.records)})
            kafka_io.create_topics(bootstrap, [prefix + f for f in families], partitions=2,
                                   retention_hours=2,
                                   replication_factor=settings.kafka.replication_factor)  # fmt: skip
            sent = produce(bootstrap, ((prefix + r.family, r.key, r.value) for r in run.records))
        assert sent == len(run.records) >= EVENTS
        yield ClusterRun(run, logs)
    finally:
        (logs / "times.txt").write_text("".join(f"{k}\t{v:.1f}\n" for k, v in TIMES.items()))
        trino_client.drop_catalog(admin, run.catalog)
        kafka_io.delete_topics_with_prefix(bootstrap, prefix)
        lakefs.delete(area)


def _apps(settings: Settings) -> set[str]:
    """Ids of every application the master knows, running or finished."""
    state = spark_cluster.master_state(settings) or {}
    return {a["id"] for key in ("activeapps", "completedapps") for a in state.get(key) or ()}


def _executors(settings: Settings, app_id: str) -> dict[str, int]:
    """How many executors each worker launched for `app_id` (running or finished)."""
    found = {}
    for i in range(1, spark_cluster.cluster_settings(settings).workers + 1):
        state = spark_cluster.worker_state(settings, i) or {}
        ran = [*(state.get("executors") or ()), *(state.get("finishedexecutors") or ())]
        found[f"worker-{i}"] = sum(1 for e in ran if e.get("appid") == app_id)
    return found


@pytest.fixture(scope="module")
def clean_run(events: ClusterRun):
    """The clean `pipeline --once` on the cluster into the run's s3a:// lake, registered in a
    private Trino catalog over S3; the executors each worker ran for it."""
    run, settings = events.lake_run, events.settings
    before = _apps(settings)
    with timed("clean run"):
        run_to_end(run.pipeline_command(run.lake, run.checkpoints), events.logs / "clean.log",
                   JOB_TIMEOUT_S, settings.spark.master)  # fmt: skip
    (app_id,) = _apps(settings) - before
    events.executors = _executors(settings, app_id)
    print(f"[cluster path] {app_id}: executors per worker {events.executors}", flush=True)
    admin = trino_client.connect(settings.trino)
    with timed("register in Trino"):
        trino_client.create_lake_catalog(admin, run.catalog, run.lake, settings.s3)
        layers = load_pipeline_conf(settings.paths.conf).layers
        trino_client.register_lake_at(admin, run.catalog, run.lake, layers)
    run.conn = trino_client.connect(settings.trino, catalog=run.catalog)
    return events


def test_the_clean_run_ran_in_executors_of_both_workers(clean_run: ClusterRun):
    assert set(clean_run.executors) == {"worker-1", "worker-2"}
    assert all(n >= 1 for n in clean_run.executors.values()), clean_run.executors
    lake = clean_run.lake_run.lake
    assert str(lake).startswith("s3a://") and lakefs.exists(lake / "silver" / "player_action")


@pytest.fixture(scope="module")
def world(clean_run: ClusterRun):
    with timed("oracle: the Python world"):
        return World(clean_run.lake_run.records, clean_run.lake_run.contracts)


@pytest.mark.parametrize("query", QUERIES, ids=[q.name for q in QUERIES])
def test_trino_over_s3_answers_as_the_oracle(clean_run: ClusterRun, world, query):
    """The same answers as the local stack gives (tests/integration/test_oracle.py)."""
    assert query.name in ORACLES, f"no oracle for {query.name}: add one to tests/oracle.py"
    with timed("oracle: questions (Trino + Python)"):
        result = trino_client.run(clean_run.lake_run.conn, query.sql)
        expected = ORACLES[query.name](world)
    problems = differences(expected, result.columns, result.rows)
    assert not problems, f"{query.name}:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def checker(cluster: Settings):
    """A Spark session in this process (local[2]) that reads the s3a:// lakes."""
    from gamelake.spark import build_session

    local = load_settings(cluster.env, cluster.paths.root, {"spark": {"master": "local[2]"}})
    session = build_session(local, app_name="gamelake-cluster-check")
    yield session
    session.stop()


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, their children, ...)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def _kill_worker(settings: Settings, worker: int) -> list[str]:
    """SIGKILL a worker's JVM and everything it launched; the command of each process killed."""
    pid = spark_cluster.worker_handle(settings, worker).pid()
    assert pid is not None, f"worker {worker} is not running"
    victims = [pid, *_descendants(pid)]
    commands = []
    for victim in victims:
        with contextlib.suppress(OSError):
            commands.append(Path(f"/proc/{victim}/cmdline").read_bytes().replace(b"\0", b" "))
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
    return [c.decode(errors="replace") for c in commands]


def _logged_at(log: str, text: str) -> float | None:
    """When the job logged the first line containing `text` (epoch seconds), or None."""
    line = next((x for x in log.splitlines() if text in x), None)
    if line is None:
        return None
    return dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()


def test_a_worker_killed_mid_silver_leaves_the_clean_runs_lake(clean_run: ClusterRun, checker):
    """Exactly once with a worker gone: its executor's tasks rerun on the other worker, and
    bronze, silver and quarantine equal the clean run's."""
    run, settings = clean_run.lake_run, clean_run.settings
    lake, log = run.area / "killed" / "lake", clean_run.logs / "killed.log"
    cmd = run.pipeline_command(lake, run.area / "killed" / "checkpoints",
                               "--stages", "bronze,silver")  # fmt: skip
    started = time.monotonic()
    proc = start(cmd, log, settings.spark.master)
    try:
        assert wait_for_log(log, "stream silver started", proc, JOB_TIMEOUT_S), "job ended"
        time.sleep(KILL_AFTER_SILVER_START_S)
        assert "silver done" not in log.read_text(errors="replace"), "silver ended before"
        killed = _kill_worker(settings, 1)
        killed_at = time.time()
        proc.wait(timeout=JOB_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            kill(proc)
        TIMES["faulty run"] = time.monotonic() - started
        stack.up(settings, ["spark-cluster"])  # the killed worker back: the stack stays whole
    text = log.read_text(errors="replace")
    assert proc.returncode == 0, text[-4000:]
    assert any("CoarseGrainedExecutorBackend" in c for c in killed), killed
    assert "Lost executor" in text, "the driver never noticed the worker go"
    silver_at, done_at = _logged_at(text, "stream silver started"), _logged_at(text, "silver done")
    print(f"[cluster path] faulty run {TIMES['faulty run']:.0f}s; worker 1 and its executor "
          f"killed {killed_at - silver_at:.0f}s after silver started, silver done "
          f"{done_at - killed_at:.0f}s after the kill", flush=True)  # fmt: skip
    with timed("compare the lakes"):
        assert_same_lake(checker, run.lake, lake)


def _counts(conn, tables: list[tuple[str, str]]) -> dict[str, int]:
    return {f"{layer}.{name}": trino_client.run(conn, f"select count(*) from {layer}.{name}")
            .rows[0][0] for layer, name in tables}  # fmt: skip


def _gamelake(settings: Settings, args: list[str], log: Path) -> None:
    """Run the gamelake command as a user does, under the profile; fail with its output."""
    env = {**os.environ, "GAMELAKE_ENV": settings.env}
    with open(log, "ab") as out:
        done = subprocess.run([str(Path(sys.executable).parent / "gamelake"), *args], env=env,
                              stdout=out, stderr=out, timeout=JOB_TIMEOUT_S)  # fmt: skip
    assert done.returncode == 0, log.read_text(errors="replace")[-4000:]


def test_maintain_optimize_and_vacuum_on_s3(clean_run: ClusterRun):
    """Compaction then a vacuum of every table of the S3 lake keep every row, Trino reads the
    tables after, and the history lands in ops.maintenance."""
    run, settings = clean_run.lake_run, clean_run.settings
    layers = load_pipeline_conf(settings.paths.conf).layers
    tables = find_delta_tables(run.lake, layers)
    before = _counts(run.conn, tables)
    log = clean_run.logs / "maintain.log"
    with timed("maintain optimize"):
        _gamelake(settings, ["maintain", "optimize", "--lake", str(run.lake)], log)
    # Every file the compaction replaced goes now, not in 7 days.
    with timed("maintain vacuum"):
        _gamelake(settings, ["maintain", "vacuum", "--lake", str(run.lake),
                             "--retain-hours", "0", "--force"], log)  # fmt: skip
    assert _counts(run.conn, tables) == before
    admin = trino_client.connect(settings.trino)
    assert trino_client.register_lake_at(admin, run.catalog, run.lake, layers) == [
        "ops.maintenance"
    ]
    history = trino_client.run(run.conn, "select operation, count(*), "
                               "sum(files_before - files_after) from ops.maintenance group by 1")  # fmt: skip
    by_operation = {op: (n, removed) for op, n, removed in history.rows}
    # A row per table compacted (those with small files to merge), per table vacuumed (every
    # one, ops.maintenance too by then).
    assert 1 <= by_operation["optimize"][0] <= len(tables), by_operation
    assert by_operation["vacuum"][0] == len(tables) + 1, by_operation
    assert by_operation["vacuum"][1] > 0, "the vacuum deleted no file the compaction replaced"
