"""DNS clients behind one interface (see :mod:`spfguard.dns.base`).

Only the interface is imported here; the concrete clients are imported by whoever builds them, so
that importing the core never pulls in network code it does not use.
"""

from spfguard.dns.base import Answer, DnsClient, Status

__all__ = ["Answer", "DnsClient", "Status"]
