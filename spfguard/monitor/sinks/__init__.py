"""Alert channels, as a registry: each kind of sink is one module with one :class:`Sink` subclass, named in
:data:`SINKS` (and so in the ``[alerts]`` tables of spfguard.toml). Delivery of the outbox and the digest both send
through this interface, so a new channel is one module, one registry line and one test.

A sink is built from its settings when the configuration is loaded (no network then), and sends a
:class:`~spfguard.monitor.alerts.Message` — a batch of alert events or a digest — within a total deadline,
raising :class:`~spfguard.monitor.alerts.AlertError` with a reason (never a secret) when the other end refuses or
does not answer in time."""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from spfguard.monitor.alerts import Message
from spfguard.tables import ConfigError, nearest

# kind -> "module:Class" (imported only when the kind is configured)
SINKS: dict[str, str] = {
    "webhook": "spfguard.monitor.sinks.webhook:WebhookSink",
    "email": "spfguard.monitor.sinks.email:EmailSink",
    "slack": "spfguard.monitor.sinks.slack:SlackSink",
    "teams": "spfguard.monitor.sinks.teams:TeamsSink",
    "apprise": "spfguard.monitor.sinks.apprise:AppriseSink",
}


class Sink(ABC):
    kind: ClassVar[str] = ""

    @classmethod
    @abstractmethod
    def parse(cls, value: Any, where: str) -> Sink:
        """The sink from its value in the config (a URL string or a table); errors name ``where``."""

    @abstractmethod
    def send(self, message: Message, timeout: float) -> None:
        """Deliver ``message`` within ``timeout`` seconds in all, or raise AlertError."""

    def describe(self) -> str:
        """Where it sends, fit to print (no secret)."""
        return self.kind


def sink_class(kind: str) -> type[Sink]:
    try:
        module, _, name = SINKS[kind].partition(":")
    except KeyError:
        guess = nearest(kind, SINKS)
        raise ConfigError(f"unknown alert channel {kind!r}" + (f": did you mean {guess}?" if guess else
                                                               f" (known: {', '.join(SINKS)})")) from None
    cls: type[Sink] = getattr(importlib.import_module(module), name)
    return cls


def parse_sink(kind: str, value: Any, where: str) -> Sink:
    return sink_class(kind).parse(value, where)
