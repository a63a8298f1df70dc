"""Issue #11: spfguard as users install it — wheels of the core and every provider plugin, installed
**non-editable** into a fresh virtual environment, running the README's commands from another directory (so
nothing can be read from this source tree)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile

import pytest

from tests.conftest import DEMO_ZONES, ROOT

PROVIDERS = sorted(p.parent for p in (ROOT / "providers").glob("*/pyproject.toml"))


def _run(*args, cwd=None, env=None, timeout=600):
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)
    assert proc.returncode == 0, f"{args}: {proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheels")
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--disable-pip-version-check", "-w", out,
         ROOT, *PROVIDERS)
    return sorted(out.glob("*.whl"))


def test_the_core_wheel_holds_every_data_file(wheels):
    core = next(w for w in wheels if w.name.startswith("spfguard-0"))
    names = set(zipfile.ZipFile(core).namelist())
    package = ROOT / "spfguard"
    data = [p.relative_to(ROOT).as_posix() for p in package.rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts]
    assert data, "the package has data files"
    missing = [p for p in data if p not in names]
    assert not missing, f"not in the wheel: {missing}"
    assert any(n.endswith("licenses/LICENSE") for n in names)


@pytest.fixture(scope="module")
def installed(wheels, tmp_path_factory):
    """A fresh venv with the wheels installed as users install them (dependencies from the index)."""
    venv = tmp_path_factory.mktemp("venv")
    _run(sys.executable, "-m", "venv", venv)
    core = next(w for w in wheels if w.name.startswith("spfguard-0"))
    plugins = [w for w in wheels if w != core]
    # the core with its dmarc extra (`spfguard senders`), as the README's install line has it
    _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"spfguard[dmarc] @ {core.as_uri()}", *plugins)
    return venv / "bin" / "spfguard"


def test_readme_commands_work_from_a_non_editable_install(installed, tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "HOME": str(home), "XDG_STATE_HOME": str(home / "state"),
           "XDG_CACHE_HOME": str(home / "cache"), "NO_COLOR": "1"}
    env.pop("SPFGUARD_CACHE_DIR", None)
    zones = tmp_path / "zones"
    shutil.copytree(DEMO_ZONES, zones)
    work = tmp_path / "elsewhere"
    work.mkdir()

    check = _run(installed, "check", "aacn.org", "--zone", zones, cwd=work, env=env)
    assert "lookups 9/10" in check.stdout and "verdict: valid" in check.stdout
    ranges = _run(installed, "ranges", "list", cwd=work, env=env)
    assert "microsoft365" in ranges.stdout and "spf.protection.outlook.com" in ranges.stdout
    providers = _run(installed, "providers", cwd=work, env=env)
    assert all(name in providers.stdout for name in ("cloudflare", "route53", "rfc2136", "zonefile", "powerdns",
                                                     "azure", "gcloud", "octodns"))
    assert "not installed" not in providers.stdout

    fixed = _run(installed, "fix", "aacn.org", "--zone", zones, "--expect", "microsoft365,google-workspace,mimecast-us",
                 "--provider", "zonefile", "--apply", "--wait", "5", cwd=work,
                 env={**env, "SPFGUARD_ZONEFILE": str(zones / "aacn.org.zone")})
    assert "backup:" in fixed.stdout and "verified" in fixed.stdout
    assert "include:spf.protection.outlook.com" in (zones / "aacn.org.zone").read_text()

    config = tmp_path / "spfguard.toml"
    config.write_text(textwrap.dedent(f"""
        [monitor]
        state = "{tmp_path / 'monitor.sqlite'}"
        [[monitor.domains]]
        name = "aacn.org"
        expect = ["microsoft365"]
    """))
    watched = subprocess.run([str(installed), "monitor", "--config", str(config), "--once", "--zone", str(zones)],
                             capture_output=True, text=True, cwd=work, env=env, timeout=120)
    assert watched.returncode in (0, 1), watched.stderr
    assert "1 domain(s) checked" in watched.stdout and "internal error" not in watched.stderr


def _readme_commands() -> list[str]:
    """The README's concrete, offline commands: inline ``spfguard …`` code and ``$ spfguard …`` lines without
    placeholders, answering from the fixtures (or needing no DNS at all)."""
    import re

    text = (ROOT / "README.md").read_text()
    found = re.findall(r"`(spfguard [^`]+)`", text) + re.findall(r"^\$ (spfguard .+)$", text, re.M)
    offline = ("--zone fixtures", "ranges list", "ranges allowlist --for mimecast", "providers", "connector plan")
    commands = []
    for command in dict.fromkeys(c.strip() for c in found):
        if any(mark in command for mark in ("…", "DOMAIN", "FILE", "[", "BACKUP", "NAME", "<", "|", "fleet.csv")):
            continue
        if any(mark in command for mark in offline):
            commands.append(command)
    return commands


def test_every_offline_readme_example_runs(installed, tmp_path):
    import shlex

    commands = _readme_commands()
    assert len(commands) >= 6, commands
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"), "NO_COLOR": "1"}
    for command in commands:
        args = shlex.split(command)[1:]
        proc = subprocess.run([str(installed), *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
        assert proc.returncode in (0, 1), f"{command}: exit {proc.returncode}\n{proc.stderr}"
        assert "internal error" not in proc.stderr and proc.stdout.strip(), command


@pytest.fixture(scope="module")
def core_alone(wheels, tmp_path_factory):
    """The core wheel alone in a fresh venv, its dependencies as pip resolves them today (no plugin pins an
    older cryptography here)."""
    venv = tmp_path_factory.mktemp("core-venv")
    _run(sys.executable, "-m", "venv", venv)
    core = next(w for w in wheels if w.name.startswith("spfguard-0"))
    _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", core)
    return venv / "bin" / "spfguard"


def test_quiet_prints_nothing_on_a_healthy_fleet_with_the_core_alone(core_alone, tmp_path):
    """Issue #20: cron mails whatever a job prints; with --quiet a healthy fleet prints nothing at all — no
    dependency's DeprecationWarning either."""
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "calm.test.zone").write_text("$ORIGIN calm.test.\n$TTL 60\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n"
                                          "@ IN NS ns1\nns1 IN A 127.0.0.1\n@ IN TXT \"v=spf1 -all\"\n")
    config = tmp_path / "spfguard.toml"
    config.write_text(f'[monitor]\nstate = "{tmp_path / "m.sqlite"}"\n[[monitor.domains]]\nname = "calm.test"\n')
    env = {k: v for k, v in os.environ.items() if k not in ("SPFGUARD_DEBUG", "PYTHONWARNINGS")}
    for _ in range(2):  # the first run stores the baseline, the second compares
        proc = subprocess.run([str(core_alone), "monitor", "--config", str(config), "--once", "--quiet", "--zone",
                               str(zones)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    check = subprocess.run([str(core_alone), "check", "calm.test", "--zone", str(zones)], capture_output=True,
                           text=True, cwd=tmp_path, env=env, timeout=120)
    assert check.returncode in (0, 1) and check.stderr == "", check.stderr


def test_the_missing_provider_hint_works_as_written_from_a_wheel_built_in_a_clone(wheels, tmp_path):
    """#26: the core wheel alone, installed from a clone's dist/ (as `python -m build` leaves it); asking for a
    provider names the clone's providers/NAME, and the command the hint gives installs it."""
    import re

    clone = tmp_path / "clone"
    (clone / "dist").mkdir(parents=True)
    shutil.copy(ROOT / "pyproject.toml", clone)
    shutil.copytree(ROOT / "providers" / "route53", clone / "providers" / "route53",
                    ignore=shutil.ignore_patterns("*.egg-info", "build", "__pycache__"))
    core = next(w for w in wheels if w.name.startswith("spfguard-0"))
    wheel = shutil.copy(core, clone / "dist")
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel)
    spfguard = venv / "bin" / "spfguard"
    env = {**os.environ, "HOME": str(tmp_path), "NO_COLOR": "1"}

    proc = subprocess.run([str(spfguard), "fix", "aacn.org", "--zone", str(DEMO_ZONES), "--provider", "route53"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert f"pipx inject spfguard {clone / 'providers' / 'route53'}" in proc.stderr
    pip_line = re.search(r"`(pip install [^`]+)`", proc.stderr).group(1)
    _run(venv / "bin" / "python", "-m", *pip_line.split(), "--quiet", "--disable-pip-version-check", cwd=tmp_path)

    providers = _run(spfguard, "providers", cwd=tmp_path, env=env).stdout
    route53 = next(line for line in providers.splitlines() if line.lstrip().startswith("route53"))
    assert "not installed" not in route53
    assert "provider route53: spfguard-route53 0.1.0" in _run(spfguard, "--version", cwd=tmp_path, env=env).stdout
