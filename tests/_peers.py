"""Real peers the suite runs against (Docker, Alertmanager, promtool), and ports for them.

A missing peer skips loudly on a laptop and fails where CI requires it.
"""

from __future__ import annotations

import os
import shutil
import socket

import pytest

__all__ = ["free_port", "peers_required", "require_binary"]


def peers_required() -> bool:
    """CI (or RESPONDER_REQUIRE_DOCKER) turns a missing peer into a failure instead of a skip."""
    return bool(os.environ.get("CI") or os.environ.get("RESPONDER_REQUIRE_DOCKER"))


def require_binary(*names: str, package: str) -> str:
    """The first of `names` on PATH; otherwise skip, or fail when peers are required."""
    for name in names:
        if found := shutil.which(name):
            return found
    message = f"{' or '.join(names)} not found: install it with `apt-get install {package}`"
    if peers_required():
        pytest.fail(f"required here (CI is set): {message}")
    pytest.skip(message)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
