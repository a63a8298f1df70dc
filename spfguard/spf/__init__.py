"""The SPF engine: parser (RFC 7208 §12), macros (§7), record selection (§4.5) and check_host() (§4 – §8)."""

from spfguard.spf.errors import SpfSyntaxError
from spfguard.spf.evaluator import UNLIMITED, Limits, PathStep, SpfResult, check_host, check_host_async
from spfguard.spf.parser import is_spf_record, parse_record
from spfguard.spf.terms import DomainSpec, Mechanism, Modifier, Record

__all__ = [
    "UNLIMITED", "DomainSpec", "Limits", "Mechanism", "Modifier", "Record", "SpfResult", "SpfSyntaxError",
    "PathStep", "check_host", "check_host_async", "is_spf_record", "parse_record",
]
