"""Fixtures of the security tests: two communities with every role, and a fuzzable server process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Run tests/security/fuzz_server.py in a subprocess on 127.0.0.1; yield its base URL."""
    folder = tmp_path_factory.mktemp("fuzz")
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, str(HERE / "fuzz_server.py"), "--database", str(folder / "fuzz.sqlite3")],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("LISTENING "), (line, (folder / "server.log").read_text()[-3000:])
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
        log.close()


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    """Two communities, A and B, each with a coordinator, an operator, a treating GP and another physician."""
    out: dict[str, Any] = {"admin": make.admin()}
    for key in ("a", "b"):
        community = make.community()
        out[key] = {
            "community": community,
            "coordinator": make.member(community, "coordinator"),
            "operator": make.member(community, "operator"),
            "physician": make.member(community, "physician"),
            "other": make.member(community, "physician"),
        }
    return out
