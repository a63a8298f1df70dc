"""One redaction path: text that comes from a library or a server (an error message, an HTTP body echoed back) may
hold a secret spfguard handed it — an API token, a TSIG secret, a database password. Every such message passes
through :func:`redact` before it is printed, logged, stored or sent; secrets register themselves here when they are
resolved (:func:`remember`), and URLs with credentials are shown without them (:func:`safe_url`)."""

from __future__ import annotations

import re
import urllib.parse

MASK = "***"
_known: set[str] = set()
MIN_SECRET = 4  # shorter values are too common to mask (and too weak to be real secrets)
_PASSWORD_PARAMETER = re.compile(r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key)(\s*[=:]\s*)"
                                 r"('[^']*'|\"[^\"]*\"|[^\s&;,'\"]+)")
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/@\s:]*):([^@\s]*)@")


def remember(secret: str) -> None:
    """A secret value spfguard resolved (from ``env:``/``file:`` or a literal): masked wherever it appears."""
    if secret and len(secret) >= MIN_SECRET:
        _known.add(secret)


def forget_all() -> None:
    _known.clear()


def redact(text: object) -> str:
    """``text`` with every known secret, every ``password=…``-style parameter and every URL password masked."""
    out = str(text)
    for secret in sorted(_known, key=len, reverse=True):
        if secret in out:
            out = out.replace(secret, MASK)
    out = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{m.group(2)}:{MASK}@", out)
    return _PASSWORD_PARAMETER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", out)


def safe_url(url: str) -> str:
    """A URL fit to show: scheme, host, port and path; never the user's password or the query (which may hold
    one). A URL that does not parse is named by its scheme only."""
    scheme = url.split("://", 1)[0] if "://" in url else "url"
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        user = f"{urllib.parse.unquote(parts.username)}@" if parts.username else ""
        path = parts.path if "%" not in parts.path else ""
    except ValueError:
        return f"{scheme}://(not a valid URL)"
    if any(c.isspace() for c in host + path):
        return f"{scheme}://(not a valid URL)"
    return f"{scheme}://{user}{host}{port}{path}"
