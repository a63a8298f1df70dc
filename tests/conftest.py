"""Shared fixtures: fixture zones, a real Knot DNS server, a delaying / black-holing relay."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.support

from tests.support.knot import KnotServer  # noqa: E402
from tests.support.relay import DnsRelay  # noqa: E402
from tests.support.system import require_file, require_tool  # noqa: E402

FIXTURES = ROOT / "fixtures"
DEMO_ZONES = FIXTURES / "zones"
TEST_ZONES = FIXTURES / "zones-test"
SHARED = ROOT.parent / "shared"


def zone_files(*directories: Path) -> dict[str, Path]:
    return {p.name.removesuffix(".zone"): p for d in directories for p in sorted(d.glob("*.zone"))}


@pytest.fixture(scope="session")
def knot(tmp_path_factory):
    """Knot DNS serving the demo zones and the integration-test zone."""
    knotd = require_tool("knotd", "knot")
    server = KnotServer(knotd, tmp_path_factory.mktemp("knot"), zone_files(DEMO_ZONES, TEST_ZONES)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pdns(tmp_path_factory):
    """A real PowerDNS Authoritative (Debian packages pdns-server, pdns-backend-sqlite3): DNS and the HTTP API on
    loopback ports, the zone spfguard.test (empty but for SOA and NS) in an SQLite database."""
    binary = require_tool("pdns_server", "pdns-server")
    from tests.support.pdns import SCHEMA, PdnsServer

    require_file(SCHEMA, "pdns-backend-sqlite3")
    server = PdnsServer(binary, tmp_path_factory.mktemp("pdns"), ["spfguard.test"]).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL (Debian package postgresql) on a loopback port, as an unprivileged user."""
    import glob

    pytest.importorskip("psycopg", reason="psycopg is a test extra: pip install '.[test]'")
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    require_tool("postgres", "postgresql", "".join(f":{p}" for p in found))
    from tests.support.postgres import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def postgres(postgres_server):
    """An empty database for one test."""
    postgres_server.reset()
    return postgres_server


@pytest.fixture(scope="session")
def relay(knot):
    """A relay in front of Knot that never answers for names under blackhole.spfguard.test."""
    r = DnsRelay(("127.0.0.1", knot.port), blackhole=("blackhole.spfguard.test",)).start()
    yield r
    r.stop()


def shared_file(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present (the shared/ folder sits beside the repository)")
    return path
