"""The embedded stack as a whole: start, inspect and stop Kafka and Trino."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from gamelake.config import Settings
from gamelake.runtime import kafka, process, trino, trino_auth

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


SERVICES: tuple[Service, ...] = (
    Service(
        name="kafka",
        handle=kafka.handle,
        start=kafka.start,
        healthy=lambda s: kafka.is_healthy(s.kafka.bootstrap_servers),
        port=lambda s: s.kafka.port,
        timeout_s=lambda s: 90.0,
    ),
    Service(
        name="trino",
        handle=trino.handle,
        start=trino.start,
        healthy=lambda s: trino.is_healthy(s.trino.url, trino_auth.cert_file(s.trino.auth_dir)),
        port=lambda s: s.trino.port,
        timeout_s=lambda s: float(s.trino.start_timeout_s),
    ),
)


@dataclasses.dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    port: int
    healthy: bool
    rss_mb: float | None
    log_file: str

    @property
    def state(self) -> str:
        if self.pid is None:
            return "stopped"
        return "healthy" if self.healthy else "starting/unhealthy"


def _selected(names: list[str] | None) -> list[Service]:
    return [s for s in SERVICES if names is None or s.name in names]


def up(settings: Settings, names: list[str] | None = None) -> dict[str, float]:
    """Start every selected service not already running and wait until all are healthy.

    Returns seconds from start to healthy per service started (0.0 for one already up).
    """
    started: dict[str, float] = {}
    launched_at: dict[str, float] = {}
    for svc in _selected(names):
        h = svc.handle(settings)
        if h.pid() is not None:
            log.info("%s already running (pid %s)", svc.name, h.pid())
            started[svc.name] = 0.0
            continue
        launched_at[svc.name] = time.monotonic()
        pid = svc.start(settings)
        log.info("%s starting (pid %s, log %s)", svc.name, pid, h.log_file)
    # Services start in parallel; wait for each in turn.
    for svc in _selected(names):
        h = svc.handle(settings)
        process.wait_until(
            lambda svc=svc: svc.healthy(settings),
            svc.timeout_s(settings),
            alive=lambda h=h: h.pid() is not None,
            what=svc.name,
            log_file=h.log_file,
        )
        if svc.name in launched_at:
            started[svc.name] = time.monotonic() - launched_at[svc.name]
            log.info("%s healthy after %.1fs", svc.name, started[svc.name])
    return started


def status(settings: Settings) -> list[ServiceStatus]:
    """Pid, port, health, memory and log of every service."""
    result = []
    for svc in SERVICES:
        h = svc.handle(settings)
        pid = h.pid()
        result.append(
            ServiceStatus(
                name=svc.name,
                pid=pid,
                port=svc.port(settings),
                healthy=pid is not None and svc.healthy(settings),
                rss_mb=process.rss_mb(pid) if pid is not None else None,
                log_file=str(h.log_file),
            )
        )
    return result


def down(settings: Settings, names: list[str] | None = None) -> list[str]:
    """Stop the selected services, Trino first; returns the names of those that were running."""
    stopped = []
    for svc in reversed(_selected(names)):
        if process.stop(svc.handle(settings)):
            log.info("%s stopped", svc.name)
            stopped.append(svc.name)
    return stopped
