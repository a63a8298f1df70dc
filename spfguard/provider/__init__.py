"""The DNS provider plugin API — everything a provider plugin imports from spfguard, in one place (as certbot's
``certbot.plugins.dns_common``): the contract (:class:`Provider`, :class:`Change`), its errors, the shared TXT
helpers and the network helpers with total deadlines. A plugin imports nothing else from spfguard; the contract
test suite ships as :mod:`spfguard.provider.testing`. The registry (:mod:`spfguard.provider.registry`) finds
plugins through the entry-point group ``spfguard.providers``."""

from spfguard.errors import IncompleteError, first_line
from spfguard.hostport import format_host_port, parse_host_port
from spfguard.net import DeadlineExceeded, call_with_deadline, http_request
from spfguard.provider.base import (
    GUARANTEES,
    Change,
    ConflictError,
    Provider,
    ProviderError,
    Secret,
    SettingsError,
    same_values,
)
from spfguard.provider.txt import quote, unquote, zone_for
from spfguard.redact import redact

__all__ = ["GUARANTEES", "Change", "ConflictError", "DeadlineExceeded", "IncompleteError", "Provider",
           "ProviderError", "Secret", "SettingsError", "call_with_deadline", "first_line", "format_host_port",
           "http_request", "parse_host_port", "quote", "redact", "same_values", "unquote", "zone_for"]
