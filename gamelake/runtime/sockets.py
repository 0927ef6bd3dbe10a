"""Which TCP ports a process tree listens on, and which of those other machines can reach."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Collection, Iterable


@dataclasses.dataclass(frozen=True)
class Listener:
    """One listening TCP socket: who owns it and where it is bound."""

    pid: int
    process: str
    host: str
    port: int


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and their IPv4-mapped form; False for wildcards and the rest."""
    ip = ipaddress.ip_address(host.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def exposed(
    listeners: Iterable[Listener], authenticated_ports: Collection[int] = ()
) -> list[Listener]:
    """The listeners reachable from other machines that do not authenticate their clients:
    bound beyond loopback, on a port not known to require authentication."""
    return [s for s in listeners if not is_loopback(s.host) and s.port not in authenticated_ports]


def listeners(pids: Iterable[int]) -> list[Listener]:
    """Every listening TCP socket of these processes and their children (via psutil)."""
    import psutil

    found = []
    for pid in pids:
        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for proc in tree:
            try:
                name = proc.name()
                conns = proc.net_connections(kind="tcp")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            found += [
                Listener(proc.pid, name, c.laddr.ip, c.laddr.port)
                for c in conns
                if c.status == psutil.CONN_LISTEN
            ]
    return sorted(set(found), key=lambda s: (s.pid, s.port, s.host))
