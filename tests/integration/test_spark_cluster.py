"""A real Spark standalone cluster from gamelake.runtime.spark_cluster: a master and two workers,
each its own process on loopback; stock `spark-submit --deploy-mode client` with the profile's
properties runs its tasks in executor JVMs inside both workers, not in the driver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gamelake.config import Settings, load_settings
from gamelake.runtime import spark_cluster, stack
from gamelake.runtime.sockets import exposed, listeners
from gamelake.spark import submit_env, write_submit_properties

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

MASTER_PORT, MASTER_UI_PORT, WORKER_UI_PORT_BASE = 19420, 19421, 19422

# Each task reports the executor JVM its Python worker runs under (an ancestor process whose
# command line is the executor backend's), that JVM's parent (the worker that launched it), and
# the host the executor registered with.
JOB = """
import json, os, sys, time
from pyspark.sql import SparkSession

def ancestors(pid):
    while pid > 1:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")
        stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        yield pid, int(stat[1]), [a.decode() for a in cmd]
        pid = int(stat[1])

def where(index):
    time.sleep(0.5)  # long enough for both executors to take tasks
    for pid, ppid, cmd in ancestors(os.getpid()):
        if "org.apache.spark.executor.CoarseGrainedExecutorBackend" in cmd:
            host = cmd[cmd.index("--hostname") + 1]
            return {"task": index, "executor_pid": pid, "worker_pid": ppid, "host": host}
    return {"task": index, "executor_pid": None}

spark = SparkSession.builder.getOrCreate()
tasks = spark.sparkContext.parallelize(range(8), 8).map(where).collect()
driver = {"python_pid": os.getpid(), "jvm_pid": os.getppid()}
print("RESULT " + json.dumps({"driver": driver, "tasks": tasks}), flush=True)
spark.stop()
"""


@pytest.fixture
def cluster(settings: Settings, tmp_path: Path):
    """A master and two workers of the test profile on private ports and state, healthy;
    stopped afterwards whatever happened."""
    private = load_settings(
        settings.env,
        settings.paths.root,
        {
            "paths": {"state": str(tmp_path / "state"), "lake": str(tmp_path / "lake")},
            "spark": {
                "master": f"spark://127.0.0.1:{MASTER_PORT}",
                "cluster": {
                    "embedded": True,
                    "master_ui_port": MASTER_UI_PORT,
                    "worker_ui_port_base": WORKER_UI_PORT_BASE,
                    "workers": 2,
                    "worker_cores": 1,
                    "worker_memory": "512m",
                    "daemon_memory": "256m",
                },
                "extra": {
                    "spark.executor.cores": "1",
                    "spark.executor.memory": "512m",
                    "spark.cores.max": "2",
                },
            },
        },
    )
    handles = spark_cluster.handles(private)
    try:
        # Through the stack, as `gamelake up` starts it: the service, its nodes, its health.
        started = stack.up(private, ["spark-cluster"])
        print(f"master + 2 workers healthy in {started['spark-cluster']:.1f}s")
        yield private
    finally:
        stopped = stack.down(private, ["spark-cluster"])
        survivors = [h.name for h in handles if h.pid() is not None]
        assert survivors == [], f"still running after stop: {survivors}"
    assert stopped == ["spark-cluster"]


def test_tasks_run_in_executors_of_both_workers_not_in_the_driver(cluster: Settings, tmp_path):
    nodes = [s for s in stack.status(cluster) if s.name == "spark-cluster"]
    assert [s.node for s in nodes] == ["spark-master", "spark-worker-1", "spark-worker-2"]
    assert all(s.healthy for s in nodes), nodes
    state = spark_cluster.master_state(cluster)
    assert state is not None and spark_cluster.alive_workers(state) == 2
    worker_pids = {s.pid for s in nodes[1:]}
    assert None not in worker_pids and len(worker_pids) == 2

    job = tmp_path / "where.py"
    job.write_text(JOB)
    props = write_submit_properties(cluster, tmp_path / "cluster.conf")
    master = cluster.spark.master
    started = time.monotonic()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "spark-submit"), "--master", master,
         "--deploy-mode", "client", "--properties-file", str(props),
         # Start tasks only once both executors (cores.max 2) have registered.
         "--conf", "spark.scheduler.minRegisteredResourcesRatio=1.0",
         "--conf", "spark.scheduler.maxRegisteredResourcesWaitingTime=90s",
         str(job)],
        env=submit_env(dict(os.environ), master), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    print(f"spark-submit on the cluster: {time.monotonic() - started:.1f}s")
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    tasks, driver = result["tasks"], result["driver"]

    assert sorted(t["task"] for t in tasks) == list(range(8))
    executors = {t["executor_pid"] for t in tasks}
    assert None not in executors, tasks
    assert not executors & {driver["python_pid"], driver["jvm_pid"]}
    # Each worker launched one executor, and both executors ran tasks.
    assert {t["worker_pid"] for t in tasks} == worker_pids
    assert len(executors) == 2
    assert {t["host"] for t in tasks} == {"127.0.0.1"}

    # Master, workers (and what they launch) listen on loopback only.
    socks = listeners([h.pid() for h in spark_cluster.handles(cluster)])
    ports = {s.port for s in socks}
    assert {MASTER_PORT, MASTER_UI_PORT, WORKER_UI_PORT_BASE, WORKER_UI_PORT_BASE + 1} <= ports
    assert exposed(socks) == []
