"""Logging for the command line: spfguard's own loggers (one per module, ``spfguard.…``; a provider writes under
``spfguard.provider.NAME``) on stderr, as text or JSON lines. Warnings show by default; ``SPFGUARD_LOG_LEVEL=info``
adds the audit trail (every DNS write: provider, zone, names, change id). Dependencies' own log lines and Python
warnings stay off stderr unless ``SPFGUARD_DEBUG`` is set — what a cron job prints is spfguard's to say."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import warnings

from spfguard.redact import redact
from spfguard.textsafe import safe

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)), "level": record.levelname,
                 "logger": record.name, "message": redact(record.getMessage())}
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["traceback"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=lambda v: redact(v))


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={safe(redact(v))}" for k, v in getattr(record, "fields", {}).items())
        message = safe(redact(record.getMessage()))
        line = f"spfguard: {record.levelname.lower()}: {message}{' ' + fields if fields else ''}"
        if record.exc_info:
            line += "\n" + redact(self.formatException(record.exc_info))
        return line


def _ours(record: logging.LogRecord) -> bool:
    return record.name == "spfguard" or record.name.startswith("spfguard.")


def handler(fmt: str | None) -> logging.Handler:
    out = logging.StreamHandler(sys.stderr)
    out.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    return out


def configure(environ=os.environ) -> None:
    """Called once by the CLI's entry point (the application owns logging; the library only logs)."""
    root = logging.getLogger()
    for existing in [h for h in root.handlers if getattr(h, "_spfguard", False)]:
        root.removeHandler(existing)
    debug = bool(environ.get("SPFGUARD_DEBUG"))
    out = handler(environ.get("SPFGUARD_LOG_FORMAT"))
    out._spfguard = True  # type: ignore[attr-defined]
    if debug:
        root.setLevel(logging.DEBUG)
    else:
        out.addFilter(_ours)
        root.setLevel(LEVELS.get(environ.get("SPFGUARD_LOG_LEVEL", "").lower(), logging.WARNING))
        warnings.simplefilter("ignore")  # a dependency's DeprecationWarning is not the user's concern
    root.addHandler(out)
    logging.captureWarnings(True)
