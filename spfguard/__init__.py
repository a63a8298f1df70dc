"""spfguard: audit, repair and watch SPF records (RFC 7208)."""

import logging

import dns._features

# spfguard never speaks DNS over HTTPS: tell dnspython so before anything imports dns.query, which would
# otherwise load an HTTP client stack (~30 ms of start-up) it does not need. dnspython documents force() as
# the way to override its feature detection.
dns._features.force("doh", False)

__version__ = "0.1.0"

# a library logs; the application configures where it goes (spfguard.logs, from the CLI's entry point)
logging.getLogger("spfguard").addHandler(logging.NullHandler())
