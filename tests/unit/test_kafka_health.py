"""The broker's health probe while the broker starts: a refused connection is an answer (not
yet healthy), not an error to log."""

from __future__ import annotations

import logging
import socket

from gamelake.runtime import kafka


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_broker_not_listening_yet_is_unhealthy_and_nothing_is_logged_as_a_failure(caplog):
    caplog.set_level(logging.DEBUG)
    level = logging.getLogger("kafka").level
    assert not kafka.is_healthy(f"127.0.0.1:{_unused_port()}", timeout_ms=500)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert logging.getLogger("kafka").level == level
