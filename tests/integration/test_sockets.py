"""Nothing gamelake starts can be reached from another machine without authenticating: the
listening sockets of `gamelake up`'s services and of each user-facing start, as the kernel
reports them, are on loopback (Trino's passwords are checked in test_access.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gamelake.config import project_root
from gamelake.runtime import stack
from gamelake.runtime.sockets import Listener, exposed, listeners

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _assert_private(socks: list[Listener]) -> None:
    assert socks, "no listening socket found: the check would prove nothing"
    reachable = exposed(socks)
    assert not reachable, f"listening beyond loopback without authentication: {reachable}"


def test_services_of_gamelake_up_listen_on_loopback_only(services):
    pids = [svc.handle(services).pid() for svc in stack.services(services)]
    assert None not in pids
    socks = listeners(pids)
    k, t = services.kafka, services.trino
    assert {k.port, k.controller_port, t.port} <= {s.port for s in socks}
    _assert_private(socks)


@contextlib.contextmanager
def _started(argv: list[str], port: int, log: Path, timeout_s: float = 120):
    """Run `argv` from the project root as a user would; once its process tree listens on
    `port`, yield its pid; then stop the whole tree."""
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=project_root(), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + timeout_s
        while not any(s.port == port for s in listeners([proc.pid])):
            assert proc.poll() is None, f"{argv[:3]} exited:\n{log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"{argv[:3]} not listening on {port}"
            time.sleep(0.5)
        time.sleep(2)  # servers may open their other address family a moment later
        yield proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# What a user types (README, Makefile), without the flags that choose the interface: the
# defaults are what is under test.
USER_STARTS = {
    "collector": ["gamelake", "collect", "--port", "{port}"],
    "dashboard": ["streamlit", "run", "dashboard/app.py", "--server.port={port}"],
    "jupyter": ["jupyter", "lab", "--no-browser", "--port={port}", "--notebook-dir=notebooks",
                "--ServerApp.allow_root=True"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(USER_STARTS))
def test_user_facing_starts_listen_on_loopback_only(services, name, tmp_path):
    port = _free_port()
    exe, *args = USER_STARTS[name]
    argv = [str(BIN / exe), *(a.format(port=port) for a in args)]
    if not Path(argv[0]).is_file():
        pytest.skip(f"{argv[0]} is not installed")
    with _started(argv, port, tmp_path / f"{name}.log") as pid:
        socks = listeners([pid])
    assert port in {s.port for s in socks}
    _assert_private(socks)


def test_spark_driver_listens_on_loopback_only(spark):
    # The session's JVM is a child of this test process; only it listens among them.
    socks = [s for s in listeners([os.getpid()]) if s.pid != os.getpid()]
    assert spark.sparkContext.getConf().get("spark.driver.bindAddress") == "127.0.0.1"
    _assert_private(socks)
