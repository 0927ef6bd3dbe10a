"""Background service processes tracked by pid files: start detached, check, stop."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from gamelake.errors import GamelakeError


@dataclasses.dataclass(frozen=True)
class ServiceHandle:
    """Where a service keeps its pid and log; `marker` is a string its command line contains."""

    name: str
    pid_file: Path
    log_file: Path
    marker: str

    @classmethod
    def named(cls, name: str, run_dir: Path, logs_dir: Path, marker: str) -> ServiceHandle:
        """The handle of service `name`: `<run_dir>/<name>.pid` and `<logs_dir>/<name>.log`."""
        return cls(name, run_dir / f"{name}.pid", logs_dir / f"{name}.log", marker)

    def pid(self) -> int | None:
        """The pid of the running service, or None (stale pid files are removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if _cmdline_contains(pid, self.marker):
            return pid
        # The process is gone, or the pid was reused by something that is not ours.
        self.pid_file.unlink(missing_ok=True)
        return None


def _cmdline_contains(pid: int, marker: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # A zombie has finished; it only waits to be reaped by its parent.
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state != "Z" and marker.encode() in cmdline


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def require_free_ports(service: str, host: str, ports: Mapping[str, int], conf_hint: str) -> None:
    """Raise a GamelakeError naming the first busy port and the setting that moves it."""
    for key, port in ports.items():
        if not port_is_free(host, port):
            raise GamelakeError(
                f"{service} cannot start: port {host}:{port} is already in use by another process",
                fix=f"stop that process (`ss -ltnp 'sport = :{port}'` shows it) "
                f"or change {key} in {conf_hint}",
            )


def start_detached(
    handle: ServiceHandle,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start `argv` in its own session with output appended to the log; returns its pid."""
    handle.pid_file.parent.mkdir(parents=True, exist_ok=True)
    handle.log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(handle.log_file, "ab") as log:
        log.write(f"\n=== gamelake: starting {handle.name} at {time.ctime()} ===\n".encode())
        log.flush()
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    # Popen can return before /proc shows the new program's command line; until it does,
    # pid() would take the service for dead (and drop its pid file).
    deadline = time.monotonic() + 10
    while proc.poll() is None and not _cmdline_contains(proc.pid, handle.marker):
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    handle.pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def wait_until(
    check: Callable[[], bool],
    timeout_s: float,
    alive: Callable[[], bool],
    what: str,
    log_file: Path,
    interval_s: float = 0.5,
) -> float:
    """Poll `check` until it is true; returns seconds waited. Fails fast if `alive` turns false."""
    started = time.monotonic()
    while True:
        if check():
            return time.monotonic() - started
        if not alive():
            raise GamelakeError(
                f"{what} exited during start-up; last log lines:\n{tail(log_file)}",
                fix=f"read {log_file}",
            )
        if time.monotonic() - started > timeout_s:
            raise GamelakeError(
                f"{what} did not become healthy within {timeout_s:.0f}s",
                fix=f"read {log_file}; a slow machine may need a larger start timeout in conf/env",
            )
        time.sleep(interval_s)


def stop(handle: ServiceHandle, grace_s: float = 20.0) -> bool:
    """Stop the service: SIGTERM to its process group, SIGKILL after `grace_s`. True if it ran."""
    pid = handle.pid()
    if pid is None:
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and _cmdline_contains(pid, handle.marker):
        time.sleep(0.2)
    if _cmdline_contains(pid, handle.marker):
        _signal_group(pid, signal.SIGKILL)
        for _ in range(50):
            if not _cmdline_contains(pid, handle.marker):
                break
            time.sleep(0.1)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    handle.pid_file.unlink(missing_ok=True)
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def tail(path: Path, lines: int = 15) -> str:
    try:
        content = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log yet)"
    return "\n".join(content[-lines:])


def rss_mb(pid: int) -> float | None:
    """Resident memory of `pid` in MiB (from /proc), or None if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
