"""The embedded stack as a whole: start, inspect and stop Kafka, Trino and, when the profile
runs them, an S3 object store (s3proxy) and a Spark standalone cluster."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator

from gamelake.config import Settings
from gamelake.runtime import kafka, process, s3, spark_cluster, trino, trino_auth

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Service:
    """How to start, find and health-check one embedded service."""

    name: str
    handle: Callable[[Settings], process.ServiceHandle]
    start: Callable[[Settings], int]
    healthy: Callable[[Settings], bool]
    port: Callable[[Settings], int]
    timeout_s: Callable[[Settings], float]
    # Whether the profile runs this service here (default: always).
    enabled: Callable[[Settings], bool] = lambda s: True
    # Stops every process of a service made of several; default: the one behind `handle`.
    stop: Callable[[Settings], bool] | None = None
    # Every process of a service made of several, with its port (`up` starts the missing
    # ones, `status` shows each); default: the one behind `handle`, on `port`.
    nodes: Callable[[Settings], list[tuple[process.ServiceHandle, int]]] | None = None

    def members(self, settings: Settings) -> list[tuple[process.ServiceHandle, int]]:
        """Each process of the service with its port."""
        if self.nodes is None:
            return [(self.handle(settings), self.port(settings))]
        return self.nodes(settings)


def _cluster_env(settings: Settings) -> dict[str, str]:
    """This process's environment with the object store's key pair, if the profile has one:
    a Spark worker hands its environment to its executors, which read and write s3a://."""
    env = dict(os.environ)
    if settings.s3 is not None:
        env.update(s3.credentials(os.environ, settings.s3).as_env())
    return env


SERVICES: tuple[Service, ...] = (
    # The object store of an s3a:// lake, first so that it stops last. Its key pair is the one
    # this process hands its clients (AWS_* variables, or s3.TEST_CREDENTIALS when unset).
    Service(
        name="s3proxy",
        handle=s3.handle,
        start=lambda s: s3.start(s, s3.credentials(os.environ, s.s3)),
        healthy=lambda s: s3.is_healthy(s3.BIND_HOST, s.s3.port),
        port=lambda s: s.s3.port,
        timeout_s=lambda s: 60.0,
        enabled=s3.enabled,
    ),
    Service(
        name="kafka",
        handle=kafka.handle,
        start=kafka.start,
        # A cluster is healthy once every broker registered with the controller.
        healthy=lambda s: kafka.is_healthy(s.kafka.bootstrap_servers, brokers=len(s.kafka.brokers)),
        port=lambda s: s.kafka.port,
        timeout_s=lambda s: 90.0,
        stop=kafka.stop,
        nodes=lambda s: [(kafka.handle(s, n), n.port) for n in kafka.nodes(s)],
    ),
    Service(
        name="trino",
        handle=trino.handle,
        start=lambda s: trino.start(s, _cluster_env(s)),  # an s3a:// lake: its key pair
        healthy=lambda s: trino.is_healthy(s.trino.url, trino_auth.cert_file(s.trino.auth_dir)),
        port=lambda s: s.trino.port,
        timeout_s=lambda s: float(s.trino.start_timeout_s),
    ),
    # One service of 1 + N processes, healthy only as a whole (the master lists N workers);
    # `up` restarts a worker that died. `handle` is the master's.
    Service(
        name="spark-cluster",
        handle=spark_cluster.master_handle,
        start=lambda s: spark_cluster.start(s, _cluster_env(s)),
        healthy=spark_cluster.is_healthy,
        port=lambda s: spark_cluster.master_address(s)[1],
        timeout_s=lambda s: float(spark_cluster.cluster_settings(s).start_timeout_s),
        enabled=spark_cluster.is_embedded,
        stop=spark_cluster.stop,
        nodes=spark_cluster.nodes,
    ),
)


def services(settings: Settings) -> list[Service]:
    """The services this profile runs on this machine."""
    return [s for s in SERVICES if s.enabled(settings)]


@dataclasses.dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    port: int
    healthy: bool
    rss_mb: float | None
    log_file: str
    # The process, for a service of several (a Kafka cluster's `kafka-1`); None: the service.
    node: str | None = None

    @property
    def state(self) -> str:
        if self.pid is None:
            return "stopped"
        return "healthy" if self.healthy else "starting/unhealthy"


def _selected(settings: Settings, names: list[str] | None) -> list[Service]:
    return [s for s in services(settings) if names is None or s.name in names]


def up(settings: Settings, names: list[str] | None = None) -> dict[str, float]:
    """Start every selected service not already running and wait until all are healthy.

    Returns seconds from start to healthy per service started (0.0 for one already up).
    """
    with _one_at_a_time(settings):
        return _up(settings, names)


@contextlib.contextmanager
def _one_at_a_time(settings: Settings) -> Iterator[None]:
    """Holds the profile's stack lock: two `up`s at once (two shells, two test workers) would
    otherwise both find a service stopped and both start it on the same port."""
    settings.paths.run.mkdir(parents=True, exist_ok=True)
    with open(settings.paths.run / "stack.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _up(settings: Settings, names: list[str] | None) -> dict[str, float]:
    started: dict[str, float] = {}
    launched_at: dict[str, float] = {}
    for svc in _selected(settings, names):
        h = svc.handle(settings)
        if all(m.pid() is not None for m, _ in svc.members(settings)):
            log.info("%s already running (pid %s)", svc.name, h.pid())
            started[svc.name] = 0.0
            continue
        launched_at[svc.name] = time.monotonic()
        pid = svc.start(settings)
        log.info("%s starting (pid %s, log %s)", svc.name, pid, h.log_file)
    # Services start in parallel; wait for each in turn.
    for svc in _selected(settings, names):
        members = [m for m, _ in svc.members(settings)]
        process.wait_until(
            lambda svc=svc: svc.healthy(settings),
            svc.timeout_s(settings),
            alive=lambda members=members: all(m.pid() is not None for m in members),
            what=svc.name,
            log_file=members[-1].log_file,
        )
        if svc.name in launched_at:
            started[svc.name] = time.monotonic() - launched_at[svc.name]
            log.info("%s healthy after %.1fs", svc.name, started[svc.name])
    return started


def status(settings: Settings) -> list[ServiceStatus]:
    """Pid, port, health, memory and log of every service."""
    result = []
    for svc in services(settings):
        members = svc.members(settings)
        pids = [h.pid() for h, _ in members]
        # One health check per service: a cluster is healthy (or not) as a whole.
        healthy = any(pids) and svc.healthy(settings)
        for (h, port), pid in zip(members, pids, strict=True):
            result.append(
                ServiceStatus(
                    name=svc.name,
                    pid=pid,
                    port=port,
                    healthy=pid is not None and healthy,
                    rss_mb=process.rss_mb(pid) if pid is not None else None,
                    log_file=str(h.log_file),
                    node=h.name if h.name != svc.name else None,
                )
            )
    return result


def running(settings: Settings) -> set[str]:
    """Names of the services that are up and healthy."""
    return {s.name for s in status(settings) if s.healthy}


def down(settings: Settings, names: list[str] | None = None) -> list[str]:
    """Stop the selected services, Trino first; returns the names of those that were running."""
    stopped = []
    for svc in reversed(_selected(settings, names)):
        if svc.stop(settings) if svc.stop else process.stop(svc.handle(settings)):
            log.info("%s stopped", svc.name)
            stopped.append(svc.name)
    return stopped
