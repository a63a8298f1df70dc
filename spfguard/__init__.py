"""spfguard: audit, repair and watch SPF records (RFC 7208)."""

__version__ = "0.1.0"
