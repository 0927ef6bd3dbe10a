"""The embedded Spark standalone cluster's pure parts: the cluster-local profile, each daemon's
command line and environment, and reading the master's state."""

from __future__ import annotations

import re
import socket

import pytest

from gamelake.config import LakeUri, load_settings
from gamelake.errors import GamelakeError
from gamelake.runtime import spark_cluster, stack
from gamelake.runtime.artifacts import Layout
from gamelake.spark import runs_on_loopback, spark_conf, submit_env


@pytest.fixture
def cluster_local(root, tmp_path):
    return load_settings("cluster-local", root, {"paths": {"state": str(tmp_path)}})


def test_cluster_local_profile_loads(root):
    s = load_settings("cluster-local", root)
    assert s.env == "cluster-local"
    assert s.spark.master == "spark://127.0.0.1:17077"
    c = s.spark.cluster
    assert c is not None and c.embedded and c.workers == 2
    assert (c.worker_cores, c.worker_memory) == (1, "512m")
    assert (c.master_ui_port, c.worker_ui_port_base) == (18081, 18082)
    extra = s.spark.extra
    assert (extra["spark.executor.cores"], extra["spark.executor.memory"]) == ("1", "512m")
    assert extra["spark.cores.max"] == str(c.workers * c.worker_cores)
    assert isinstance(s.paths.lake, LakeUri) and s.paths.lake == "s3a://gamelake/lake"
    assert s.paths.checkpoints == "s3a://gamelake/checkpoints"
    assert s.paths.state == root / ".gamelake" / "state-cluster-local"
    assert s.s3 is not None and (s.s3.bucket, s.s3.port, s.s3.embedded) == ("gamelake", 19000, True)
    assert (s.kafka.port, s.kafka.controller_port, s.trino.port) == (19092, 19093, 18080)


def test_no_port_of_cluster_local_is_one_of_the_local_stack(root):
    local, cl = load_settings("local", root), load_settings("cluster-local", root)
    c = cl.spark.cluster
    ours = {spark_cluster.master_address(cl)[1], c.master_ui_port, cl.kafka.port,
            cl.kafka.controller_port, cl.trino.port, cl.s3.port,
            *(spark_cluster.worker_ui_port(c, i) for i in range(1, c.workers + 1))}  # fmt: skip
    theirs = {local.kafka.port, local.kafka.controller_port, local.trino.port, 7077, 8080, 8081}
    assert not ours & theirs


def test_the_stack_runs_a_cluster_only_where_the_profile_embeds_one(root, cluster_local):
    assert "spark-cluster" in [s.name for s in stack.services(cluster_local)]
    for env in ("local", "test", "cluster"):
        assert "spark-cluster" not in [s.name for s in stack.services(load_settings(env, root))]


def test_daemon_command_lines_bind_loopback_with_every_ui_port_explicit(cluster_local, tmp_path):
    assert spark_cluster.master_args(cluster_local) == [
        "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", "17077",
        "--webui-port", "18081", "--properties-file", str(tmp_path / "spark-cluster/master.conf"),
    ]  # fmt: skip
    assert spark_cluster.worker_args(cluster_local, 2) == [
        "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
        "--cores", "1", "--memory", "512m", "--webui-port", "18083",
        "--work-dir", str(tmp_path / "spark-cluster/worker-2/work"),
        "--properties-file", str(tmp_path / "spark-cluster/worker.conf"),
        "spark://127.0.0.1:17077",
    ]  # fmt: skip


def test_each_daemon_has_its_own_pid_file_log_and_marker(root, tmp_path):
    overrides = {"paths": {"state": str(tmp_path)}, "spark": {"cluster": {"workers": 10}}}
    s = load_settings("cluster-local", root, overrides)
    handles = spark_cluster.handles(s)
    assert [h.name for h in handles[:3]] == ["spark-master", "spark-worker-1", "spark-worker-2"]
    assert len({h.pid_file for h in handles}) == len({h.log_file for h in handles}) == 11
    # pid() matches a marker as a substring of a command line: none may hold another's.
    for daemon, (h, args, _) in zip(handles, spark_cluster.daemons(s, {}), strict=True):
        assert daemon == h
        others = [o.marker for o in handles if o != h]
        line = " ".join(args)
        assert h.marker in line and not any(m in line for m in others), h.name


def test_workers_carry_the_callers_credentials_and_the_master_does_not(cluster_local, tmp_path):
    base = {"PATH": "/usr/bin", "AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret"}
    (_, _, m_env), *workers = spark_cluster.daemons(cluster_local, base)
    assert len(workers) == 2
    assert not any(k.startswith("AWS_") for k in m_env)
    for i, (_, _, env) in enumerate(workers, start=1):
        assert env["AWS_ACCESS_KEY_ID"] == "id" and env["AWS_SECRET_ACCESS_KEY"] == "secret"
        assert env["SPARK_LOCAL_DIRS"] == str(tmp_path / f"spark-cluster/worker-{i}/local")
    for env in (m_env, *(w[2] for w in workers)):
        assert env["SPARK_LOCAL_IP"] == "127.0.0.1"
        assert env["SPARK_DAEMON_MEMORY"] == "256m"
        assert env["SPARK_HOME"] and env["PATH"].endswith(":/usr/bin")


@pytest.mark.parametrize(
    "master", ["local[2]", "spark://spark-master:7077", "spark://127.0.0.1", "yarn"]
)
def test_an_embedded_cluster_needs_a_loopback_spark_master(root, master):
    s = load_settings("cluster-local", root, {"spark": {"master": master}})
    with pytest.raises(GamelakeError, match=re.escape("spark://127.0.0.1:<port>")):
        spark_cluster.master_args(s)


MASTER_STATE = {
    "url": "spark://127.0.0.1:17077",
    "status": "ALIVE",
    "workers": [
        {"id": "worker-1", "host": "127.0.0.1", "cores": 1, "memory": 512, "state": "ALIVE"},
        {"id": "worker-0", "host": "127.0.0.1", "cores": 1, "memory": 512, "state": "DEAD"},
        {"id": "worker-2", "host": "127.0.0.1", "cores": 1, "memory": 512, "state": "ALIVE"},
    ],
    "aliveworkers": 2,
}


def test_alive_workers_counts_what_the_master_lists_alive():
    assert spark_cluster.alive_workers(MASTER_STATE) == 2
    assert spark_cluster.alive_workers({**MASTER_STATE, "workers": []}) == 0
    # A standby or recovering master schedules nothing.
    assert spark_cluster.alive_workers({**MASTER_STATE, "status": "STANDBY"}) == 0
    assert spark_cluster.alive_workers({}) == 0


def test_a_master_that_does_not_answer_is_unhealthy(root, tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    s = load_settings("cluster-local", root, {"spark": {"cluster": {"master_ui_port": port}}})
    assert spark_cluster.master_state(s, timeout_s=0.5) is None
    assert not spark_cluster.is_healthy(s)


def test_a_driver_of_a_loopback_cluster_binds_loopback(cluster_local, monkeypatch):
    # spark_conf of an s3a:// lake lists the S3A jars, which only an s3 profile's setup resolves.
    monkeypatch.setattr(Layout, "spark_jar_paths", lambda self, s3a=False: [])
    conf = spark_conf(cluster_local, "x")
    assert conf["spark.driver.host"] == conf["spark.driver.bindAddress"] == "127.0.0.1"
    assert conf["spark.master"] == "spark://127.0.0.1:17077"
    assert submit_env({}, cluster_local.spark.master)["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert runs_on_loopback("spark://localhost:7077") and runs_on_loopback("local[*]")
    assert not runs_on_loopback("spark://spark-master:7077")
    assert not runs_on_loopback("spark://127.0.0.10:7077")
