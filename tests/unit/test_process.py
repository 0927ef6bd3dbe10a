from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from gamelake.errors import GamelakeError
from gamelake.runtime import process


def _handle(tmp_path: Path) -> process.ServiceHandle:
    return process.ServiceHandle(
        name="sleeper",
        pid_file=tmp_path / "run" / "sleeper.pid",
        log_file=tmp_path / "logs" / "sleeper.log",
        marker=f"gamelake-test-marker-{tmp_path.name}",
    )


def test_start_find_and_stop_a_detached_process(tmp_path):
    h = _handle(tmp_path)
    argv = [
        sys.executable,
        "-c",
        "import time, sys; print('hi', flush=True); time.sleep(60)",
        h.marker,
    ]
    pid = process.start_detached(h, argv)
    assert h.pid() == pid
    process.wait_until(
        lambda: "hi" in h.log_file.read_text(), 10, lambda: True, "sleeper", h.log_file
    )
    assert process.stop(h, grace_s=5) is True
    assert h.pid() is None
    assert not Path(f"/proc/{pid}").exists() or not process._cmdline_contains(pid, h.marker)
    assert process.stop(h) is False  # stopping twice is harmless


def test_stale_pid_file_is_ignored_and_removed(tmp_path):
    h = _handle(tmp_path)
    h.pid_file.parent.mkdir(parents=True)
    h.pid_file.write_text("1\n")  # pid 1 exists but is not ours
    assert h.pid() is None
    assert not h.pid_file.exists()


def test_a_service_dying_during_start_up_reports_its_log(tmp_path):
    h = _handle(tmp_path)
    process.start_detached(h, [sys.executable, "-c", "print('boom: bad config')", h.marker])
    with pytest.raises(GamelakeError, match="boom: bad config"):
        process.wait_until(lambda: False, 10, lambda: h.pid() is not None, "sleeper", h.log_file)


def test_busy_port_names_the_port_and_the_setting():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not process.port_is_free("127.0.0.1", port)
        with pytest.raises(GamelakeError) as err:
            process.require_free_ports(
                "Kafka", "127.0.0.1", {"kafka.port": port}, "conf/env/x.yaml"
            )
    assert str(port) in err.value.cause
    assert "kafka.port" in err.value.fix
