"""Where the monitor's state lives: a SQLite file or a PostgreSQL URL. Interpreted here and nowhere else — the
config's ``[monitor] state`` (relative to the config file's folder), ``--state`` (relative to the current folder)
and the default all pass through :func:`state_location`, so ``fix --apply`` records provenance in the very store
the monitor reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from spfguard.tables import resolve_path, xdg_state_home

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class StateLocation:
    path: Path | None = None  # a SQLite file
    url: str | None = None  # postgresql://… (may hold a password: never shown whole)
    default: bool = field(default=False, compare=False)  # $XDG_STATE_HOME's: its folder may be created

    @property
    def is_postgres(self) -> bool:
        return self.url is not None

    def exists(self) -> bool:
        """A PostgreSQL store is assumed to exist (connecting tells); a SQLite one exists when its file does."""
        return self.is_postgres or (self.path is not None and self.path.exists())

    def __str__(self) -> str:
        if self.url is not None:
            from spfguard.redact import safe_url

            return safe_url(self.url)
        return str(self.path)


def state_location(text: str | None, base: Path | None) -> StateLocation:
    """``text`` as written in a config (``base``: its folder) or on the command line (``base``: the current
    folder); None: the default store, ``$XDG_STATE_HOME/spfguard/monitor.sqlite``."""
    if text is None:
        return default_state()
    if text.startswith(POSTGRES_SCHEMES):
        _check_url(text)
        return StateLocation(url=text)
    return StateLocation(path=resolve_path(text, base))


def default_state() -> StateLocation:
    return StateLocation(path=xdg_state_home() / "monitor.sqlite", default=True)


def _check_url(url: str) -> None:
    """A PostgreSQL URL must parse before it is used; its password is registered as a secret (masked wherever a
    library echoes it). A URL that does not parse is named by its scheme alone."""
    import re
    import urllib.parse

    from spfguard.errors import UserError
    from spfguard.redact import remember

    problem = "state: not a valid postgresql:// URL (check its port and quoting; percent-encode / ? # @ : % and " \
              "spaces in the password)"
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
        password = parts.password
    except ValueError:
        raise UserError(problem) from None
    # a password with / ? or # cut the URL in the wrong place: the rest of it (with the @) lands in the path
    if "@" in parts.path + parts.query + parts.fragment or any(c.isspace() for c in parts.netloc) or \
            re.search(r"%(?![0-9A-Fa-f]{2})", parts.netloc):
        raise UserError(problem)
    if password:
        remember(password)
        remember(urllib.parse.unquote(password))
