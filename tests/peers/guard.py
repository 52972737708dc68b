"""Test helper refusing any network connection that does not stay on the loopback interface."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest


class OutboundCallError(AssertionError):
    """Raised when code under test tries to reach a host other than 127.0.0.1."""


def _is_loopback(host: Any) -> bool:
    if host in ("localhost", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def forbid_outbound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make name lookups and connections to anything but loopback fail loudly."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host.decode() if isinstance(host, bytes) else host):
            raise OutboundCallError(f"outbound lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise OutboundCallError(f"outbound connection to {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
