"""`orders-service dev` claims its ports on loopback: a port in use is refused by its flag."""

from __future__ import annotations

import socket

import pytest

from devstack import StackError, claim_port


def test_a_port_in_use_is_refused_naming_the_flag() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StackError, match=f"port {port} is in use.*--sandbox-port"):
            claim_port(port, "--sandbox-port")


def test_port_zero_picks_a_free_one() -> None:
    assert claim_port(0, "--port") > 0
