"""Apprise (``pip install 'spfguard[apprise]'``): the long tail of channels — Discord, Telegram, PagerDuty,
Opsgenie, ntfy, Matrix, Pushover … — one Apprise URL (or a list) per route, sent by the Apprise library itself
(``apprise = "ntfy://ntfy.example.com/spf"``; URLs may be ``env:VAR``/``file:PATH`` references, as they often hold
tokens)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spfguard.monitor.alerts import AlertError, Message
from spfguard.monitor.sinks import Sink
from spfguard.net import DeadlineExceeded, call_with_deadline
from spfguard.redact import redact, remember
from spfguard.tables import ConfigError, resolve_secret


@dataclass
class AppriseSink(Sink):
    kind = "apprise"
    urls: list[str] = field(repr=False)  # references or literal Apprise URLs (they may hold tokens)
    where: str = field(default="alerts.apprise", compare=False)

    @classmethod
    def parse(cls, value: Any, where: str) -> AppriseSink:
        urls = [value] if isinstance(value, str) else value
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u.strip() for u in urls):
            raise ConfigError(f"{where}: expected an Apprise URL or a list of them (e.g. \"ntfy://host/topic\")")
        try:
            import apprise  # noqa: F401
        except ImportError:
            raise ConfigError(f"{where}: needs the Apprise library: pipx inject spfguard apprise (or install "
                              "spfguard[apprise])") from None
        return cls(list(urls), where)

    def _client(self):
        import apprise

        client = apprise.Apprise()
        for i, reference in enumerate(self.urls):
            url = resolve_secret(reference, f"{self.where}[{i}]")
            remember(url)  # a whole Apprise URL is as secret as the token inside it
            if not client.add(url):
                raise AlertError(f"{self.where}[{i}]: Apprise does not recognise this URL")
        return client

    def send(self, message: Message, timeout: float) -> None:
        client = self._client()

        def notify() -> bool:
            return bool(client.notify(body=message.text, title=message.subject, timeout=timeout))

        try:
            delivered = call_with_deadline(notify, timeout, f"Apprise ({len(self.urls)} URL(s))")
        except DeadlineExceeded as err:
            raise AlertError(str(err)) from None
        except Exception as err:  # noqa: BLE001 - the library's own failures, said in one line
            raise AlertError(f"Apprise: {redact(err)}") from None
        if not delivered:
            raise AlertError(f"Apprise could not deliver to every URL of {self.where}")

    def describe(self) -> str:
        return f"Apprise ({len(self.urls)} URL(s))"
