"""A Spark standalone cluster on this machine: one master and N workers, each its own process
started with pyspark's `spark-class`, on loopback, for profiles whose `spark.cluster` is embedded.

Every daemon has its own pid file and log (`<state>/run/spark-{master,worker-<i>}.pid`,
`<state>/logs/...`) so one worker can be stopped or killed alone; the stack sees them as one
service, healthy when the master lists every worker alive. Daemon config and the workers' work
and scratch dirs (executors' jars, logs and shuffle files) are under `<state>/spark-cluster/`.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gamelake.config import Settings, SparkClusterSettings
from gamelake.errors import GamelakeError
from gamelake.runtime import process
from gamelake.spark import LOOPBACK, LOOPBACK_HOSTS, submit_env

log = logging.getLogger(__name__)

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
CONF_HINT = "conf/env/<profile>.yaml (spark.master / spark.cluster)"

# Nothing but the master's RPC port takes applications: the REST submission server would be
# another port, open to anyone who can reach it.
MASTER_PROPERTIES = {"spark.master.rest.enabled": "false"}
# Every application ships its jars (~40 MB) into a worker's work dir; drop finished ones a day
# later instead of keeping them for good.
WORKER_PROPERTIES = {
    "spark.worker.cleanup.enabled": "true",
    "spark.worker.cleanup.appDataTtl": str(24 * 3600),
}


def is_embedded(settings: Settings) -> bool:
    """True when this profile runs its Spark standalone cluster on this machine."""
    cluster = settings.spark.cluster
    return cluster is not None and cluster.embedded


def cluster_settings(settings: Settings) -> SparkClusterSettings:
    """The profile's `spark.cluster` section (an error naming the fix when it has none)."""
    if settings.spark.cluster is None:
        raise GamelakeError(
            f"profile {settings.env!r} has no spark.cluster section",
            fix="use a profile that runs a standalone cluster, e.g. GAMELAKE_ENV=cluster-local",
        )
    return settings.spark.cluster


def master_address(settings: Settings) -> tuple[str, int]:
    """(host, port) of the profile's `spark://` master, which must be on loopback here."""
    master = settings.spark.master
    host, _, port = master.removeprefix("spark://").rpartition(":")
    if not master.startswith("spark://") or host not in LOOPBACK_HOSTS or not port.isdigit():
        raise GamelakeError(
            f"an embedded Spark cluster needs a master spark://127.0.0.1:<port>, not {master!r}",
            fix=f"set spark.master in {CONF_HINT}, or spark.cluster.embedded: false",
        )
    return host, int(port)


def cluster_dir(settings: Settings) -> Path:
    return settings.paths.state / "spark-cluster"


def worker_dir(settings: Settings, worker: int) -> Path:
    return cluster_dir(settings) / f"worker-{worker}"


def master_handle(settings: Settings) -> process.ServiceHandle:
    marker = str(cluster_dir(settings) / "master.conf")
    return process.ServiceHandle.named(
        "spark-master", settings.paths.run, settings.paths.logs, marker
    )


def worker_handle(settings: Settings, worker: int) -> process.ServiceHandle:
    """Worker `worker` (from 1)'s pid file and log; its marker is its own work dir."""
    # "worker-1/work" is no part of "worker-10/work".
    marker = str(worker_dir(settings, worker) / "work")
    return process.ServiceHandle.named(
        f"spark-worker-{worker}", settings.paths.run, settings.paths.logs, marker
    )


def nodes(settings: Settings) -> list[tuple[process.ServiceHandle, int]]:
    """Each daemon with the port `gamelake status` shows: the master's RPC port (what
    applications connect to), then each worker's web UI port (its RPC port is picked at start)."""
    cluster = cluster_settings(settings)
    found = [(master_handle(settings), master_address(settings)[1])]
    for i in range(1, cluster.workers + 1):
        found.append((worker_handle(settings, i), worker_ui_port(cluster, i)))
    return found


def handles(settings: Settings) -> list[process.ServiceHandle]:
    """The master's handle, then each worker's."""
    return [handle for handle, _ in nodes(settings)]


def worker_ui_port(cluster: SparkClusterSettings, worker: int) -> int:
    return cluster.worker_ui_port_base + worker - 1


def master_args(settings: Settings) -> list[str]:
    """spark-class arguments of the master: its address, UI port and properties file."""
    host, port = master_address(settings)
    ui_port = cluster_settings(settings).master_ui_port
    conf = cluster_dir(settings) / "master.conf"
    return [MASTER_CLASS, "--host", host, "--port", str(port), "--webui-port", str(ui_port),
            "--properties-file", str(conf)]  # fmt: skip


def worker_args(settings: Settings, worker: int) -> list[str]:
    """spark-class arguments of worker `worker`: its size, UI port, work dir and master."""
    cluster = cluster_settings(settings)
    host, port = master_address(settings)
    return [WORKER_CLASS, "--host", host,
            "--cores", str(cluster.worker_cores), "--memory", cluster.worker_memory,
            "--webui-port", str(worker_ui_port(cluster, worker)),
            "--work-dir", str(worker_dir(settings, worker) / "work"),
            "--properties-file", str(cluster_dir(settings) / "worker.conf"),
            f"spark://{host}:{port}"]  # fmt: skip


def daemon_env(base: Mapping[str, str], daemon_memory: str, credentials: bool) -> dict[str, str]:
    """A daemon's environment: `base` plus Spark's home, the loopback address and the daemon
    heap; AWS_* kept only when `credentials` (a worker's executors inherit its environment)."""
    env = submit_env({k: v for k, v in base.items() if credentials or not k.startswith("AWS_")})
    env["SPARK_LOCAL_IP"] = LOOPBACK  # RPC and web UI of the daemon, and of its executors
    env["SPARK_DAEMON_MEMORY"] = daemon_memory
    return env


Daemon = tuple[process.ServiceHandle, list[str], dict[str, str]]


def daemons(settings: Settings, base: Mapping[str, str]) -> list[Daemon]:
    """Each daemon's handle, spark-class arguments and environment: the master, then workers."""
    cluster = cluster_settings(settings)
    memory = cluster.daemon_memory
    found = [(master_handle(settings), master_args(settings), daemon_env(base, memory, False))]
    for i in range(1, cluster.workers + 1):
        env = daemon_env(base, memory, credentials=True)
        # Executors' scratch space (shuffle, spills) beside the work dir, not in /tmp.
        env["SPARK_LOCAL_DIRS"] = str(worker_dir(settings, i) / "local")
        found.append((worker_handle(settings, i), worker_args(settings, i), env))
    return found


def properties_text(props: Mapping[str, str]) -> str:
    lines = ["# written by gamelake.runtime.spark_cluster; do not edit"]
    return "\n".join([*lines, *(f"{k} {v}" for k, v in props.items()), ""])


def _spark_class() -> str:
    return str(Path(sys.executable).parent / "spark-class")


def _require_free_ports(settings: Settings, to_start: list[process.ServiceHandle]) -> None:
    cluster = cluster_settings(settings)
    host, port = master_address(settings)
    ports: dict[str, int] = {}
    if master_handle(settings) in to_start:
        ports = {
            "spark.master (port)": port,
            "spark.cluster.master_ui_port": cluster.master_ui_port,
        }
    for i in range(1, cluster.workers + 1):
        if worker_handle(settings, i) in to_start:
            ports[f"spark.cluster.worker_ui_port_base (worker {i})"] = worker_ui_port(cluster, i)
    process.require_free_ports("The Spark cluster", host, ports, CONF_HINT)


def start(settings: Settings, env: Mapping[str, str] | None = None) -> int:
    """Start the master and every worker not running yet; returns the master's pid.

    `env` (default: this process's environment) is every daemon's base environment; the
    workers keep its AWS_* credentials, which their executors use for s3a://.
    """
    base = dict(os.environ if env is None else env)
    to_start = [d for d in daemons(settings, base) if d[0].pid() is None]
    _require_free_ports(settings, [h for h, _, _ in to_start])
    cdir = cluster_dir(settings)
    cdir.mkdir(parents=True, exist_ok=True)
    (cdir / "master.conf").write_text(properties_text(MASTER_PROPERTIES))
    (cdir / "worker.conf").write_text(properties_text(WORKER_PROPERTIES))
    for i in range(1, cluster_settings(settings).workers + 1):
        (worker_dir(settings, i) / "local").mkdir(parents=True, exist_ok=True)
    for handle, args, denv in to_start:
        pid = process.start_detached(handle, [_spark_class(), *args], env=denv, cwd=cdir)
        log.info("%s starting (pid %s, log %s)", handle.name, pid, handle.log_file)
    return master_handle(settings).pid() or 0


def stop(settings: Settings, grace_s: float = 20.0) -> bool:
    """Stop the workers (their executors with them), then the master; True if any ran."""
    stopped = [process.stop(h, grace_s) for h in reversed(handles(settings))]
    return any(stopped)


def master_ui_url(settings: Settings) -> str:
    host, _ = master_address(settings)
    return f"http://{host}:{cluster_settings(settings).master_ui_port}"


def alive_workers(master_state: Mapping[str, Any]) -> int:
    """How many workers the master's /json/ state lists as ALIVE (0 unless it leads)."""
    if master_state.get("status") != "ALIVE":
        return 0
    return sum(1 for w in master_state.get("workers") or () if w.get("state") == "ALIVE")


def _ui_json(url: str, timeout_s: float) -> dict[str, Any] | None:
    """A daemon's state from its web UI's JSON, or None while it does not answer."""
    # Straight to loopback, whatever proxy the environment names for HTTP.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout_s) as r:
            return json.load(r)
    except (urllib.error.URLError, OSError, ValueError):
        return None


def master_state(settings: Settings, timeout_s: float = 3.0) -> dict[str, Any] | None:
    """The master's state (workers, applications) from its web UI, or None while it does not
    answer."""
    return _ui_json(f"{master_ui_url(settings)}/json/", timeout_s)


def worker_state(settings: Settings, worker: int, timeout_s: float = 3.0) -> dict[str, Any] | None:
    """Worker `worker`'s state (its running and finished executors, each with its app id) from
    its web UI, or None while it does not answer."""
    host, _ = master_address(settings)
    port = worker_ui_port(cluster_settings(settings), worker)
    return _ui_json(f"http://{host}:{port}/json/", timeout_s)


def is_healthy(settings: Settings) -> bool:
    """True when the master answers and lists every worker of the profile as ALIVE."""
    state = master_state(settings)
    return state is not None and alive_workers(state) >= cluster_settings(settings).workers
