"""System tools the tests need: skip with a reason on a laptop, fail in CI (SPFGUARD_REQUIRE_SYSTEM_TOOLS=1)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

REQUIRE_ENV = "SPFGUARD_REQUIRE_SYSTEM_TOOLS"


def require_tool(name: str, package: str, extra_paths: str = "") -> str:
    path = shutil.which(name) or shutil.which(name, path=f"/usr/sbin:/sbin:/usr/local/sbin{extra_paths}")
    if path:
        return path
    message = f"{name} not found: install the Debian package '{package}'"
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{message} ({REQUIRE_ENV} is set, so this is a failure, not a skip)")
    pytest.skip(message)


def require_file(path, package: str) -> None:
    """A file a system package installs (e.g. a schema), with the same skip-or-fail rule as :func:`require_tool`."""
    if os.path.exists(path):
        return
    message = f"{path} not found: install the Debian package '{package}'"
    if os.environ.get(REQUIRE_ENV):
        pytest.fail(f"{message} ({REQUIRE_ENV} is set, so this is a failure, not a skip)")
    pytest.skip(message)


def stop_process(process, timeout: float = 10) -> None:
    """Terminate a server started by the tests; kill it if it does not go in time."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
