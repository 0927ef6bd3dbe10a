"""`up`, `status`, `down` on a private copy of the stack: nothing of ours survives `down`."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from gamelake.config import load_settings
from gamelake.runtime import process, stack

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _our_processes(marker: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and process._cmdline_contains(int(proc.name), marker):
            pids.append(int(proc.name))
    return pids


def test_up_status_down_leaves_no_process_running(settings, tmp_path):
    private = load_settings(
        settings.env,
        settings.paths.root,
        {
            "paths": {"state": str(tmp_path / "state"), "lake": str(tmp_path / "lake")},
            "kafka": {"port": _free_port(), "controller_port": _free_port()},
            "trino": {"port": _free_port(), "heap_mb": 1024, "query_max_memory_mb": 512},
        },
    )
    try:
        timings = stack.up(private)
        assert set(timings) == {"kafka", "trino"}
        statuses = {s.name: s for s in stack.status(private)}
        assert all(s.healthy and s.pid for s in statuses.values()), statuses
        pids = {name: s.pid for name, s in statuses.items()}

        # A second `up` finds both running and starts nothing.
        assert stack.up(private) == {"kafka": 0.0, "trino": 0.0}
        assert {s.name: s.pid for s in stack.status(private)} == pids
    finally:
        stopped = stack.down(private)

    assert sorted(stopped) == ["kafka", "trino"]
    for name, pid in pids.items():
        assert not process._cmdline_contains(pid, str(tmp_path)), f"{name} pid {pid} survived"
    assert _our_processes(str(tmp_path)) == []
    assert all(s.pid is None and not s.healthy for s in stack.status(private))
    assert stack.down(private) == []  # nothing left to stop
