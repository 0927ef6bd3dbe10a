"""Classifying listening sockets: loopback binds are private, anything else is exposed unless
its port authenticates clients."""

from __future__ import annotations

import os
import socket

import pytest

from gamelake.runtime.sockets import Listener, exposed, is_loopback, listeners


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.1.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("::ffff:0.0.0.0", False),
        ("10.1.2.3", False),
        ("192.168.0.7", False),
        ("fe80::1%eth0", False),
    ],
)
def test_loopback_addresses(host, loopback):
    assert is_loopback(host) is loopback


def test_exposed_keeps_non_loopback_binds_of_anonymous_ports():
    socks = [
        Listener(1, "java", "::ffff:127.0.0.1", 9092),
        Listener(2, "trino", "0.0.0.0", 8080),
        Listener(3, "uvicorn", "0.0.0.0", 8088),
        Listener(4, "streamlit", "::", 8501),
        Listener(5, "jupyter", "::1", 8888),
    ]
    assert [s.port for s in exposed(socks)] == [8080, 8088, 8501]
    # A port that authenticates every client (Trino with passwords) may be opened on purpose.
    assert [s.port for s in exposed(socks, authenticated_ports={8080})] == [8088, 8501]


def test_listeners_finds_this_process_sockets():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        mine = [s for s in listeners([os.getpid()]) if s.port == port]
    assert mine and mine[0].host == "127.0.0.1" and not exposed(mine)
