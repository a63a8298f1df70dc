"""RFC 2136 dynamic updates with TSIG (RFC 8945) through dnspython — BIND, Knot, PowerDNS.

Settings (``[providers.rfc2136]`` in spfguard.toml, or the environment):

* ``server``: ``host:port`` (``SPFGUARD_RFC2136_SERVER``);
* ``tsig``: ``name:algorithm:secret`` (``SPFGUARD_RFC2136_TSIG``), or ``tsig_file``: a BIND-style key file
  (``key "name" { algorithm hmac-sha256; secret "…"; };``) — secrets may be ``env:VAR`` / ``file:PATH``;
* ``zone``: optional; found from the server's SOA answers otherwise.

Each write is a single UPDATE whose prerequisite is the exact TXT set read a moment before (RFC 2136 §2.4.2,
"RRset exists, value dependent") — or "RRset does not exist" when there was none — so the server itself
refuses the change if anything moved in between.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import dns.exception
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.update

from spfguard.config import resolve_secret
from spfguard.fix.plan import Change
from spfguard.hostport import format_host_port, parse_host_port
from spfguard.provider.base import ConflictError, Provider, ProviderError, same_values

ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1", "hmac-md5")
DEFAULT_TTL = 300


class Rfc2136Provider(Provider):
    name = "rfc2136"
    settings_keys = ("server", "tsig", "tsig_file", "zone", "timeout", "ttl")
    guarantee = "atomic compare-and-set"
    credentials = "TSIG key: tsig_file (a BIND/Knot key file) or tsig = \"env:VAR\"; SPFGUARD_RFC2136_TSIG"

    def __init__(self, settings=None):
        super().__init__(settings)
        server = self.settings.get("server") or os.environ.get("SPFGUARD_RFC2136_SERVER")
        if not server:
            raise ProviderError("rfc2136: no server: set SPFGUARD_RFC2136_SERVER=host:port or "
                                "[providers.rfc2136] server")
        self.host, self.port = parse_host_port(server, 53, "rfc2136 server")
        self.server = format_host_port(self.host, self.port)
        self._key = self._load_key()
        self.timeout = float(self.settings.get("timeout", 5))

    def _load_key(self) -> dns.tsig.Key | None:
        spec = self.settings.get("tsig") or os.environ.get("SPFGUARD_RFC2136_TSIG")
        key_file = self.settings.get("tsig_file") or os.environ.get("SPFGUARD_RFC2136_TSIG_FILE")
        if spec:
            spec = resolve_secret(spec, "rfc2136 tsig")
            parts = spec.split(":", 2)
            if len(parts) != 3 or not all(parts):
                raise ProviderError("rfc2136: TSIG must be name:algorithm:secret (the secret is not shown)")
            name, algorithm, secret = parts
        elif key_file:
            name, algorithm, secret = _read_key_file(Path(key_file))
        else:
            return None  # unsigned updates: only for servers that allow them by address
        if algorithm.lower() not in ALGORITHMS:
            raise ProviderError(f"rfc2136: TSIG algorithm {algorithm!r} is not one of {', '.join(ALGORITHMS)}")
        try:
            return dns.tsig.Key(name, secret, algorithm.lower())
        except (ValueError, TypeError, dns.exception.DNSException):
            raise ProviderError(f"rfc2136: TSIG key {name!r}: the secret is not valid base64") from None

    def describe(self) -> dict:
        return {"provider": self.name, "server": f"{self.server}",
                "tsig_key": str(self._key.name) if self._key else None}

    # ---- DNS exchange --------------------------------------------------------------------------------

    def _query(self, name: str, rdtype: str) -> dns.message.Message:
        try:
            return dns.query.tcp(dns.message.make_query(name, rdtype), self.host, port=self.port,
                                 timeout=self.timeout)
        except (OSError, dns.exception.DNSException) as err:
            raise ProviderError(f"rfc2136: cannot reach {self.server}: {_reason(err)}") from None

    def zone_of(self, name: str) -> str:
        if self.settings.get("zone"):
            return str(self.settings["zone"]).rstrip(".")
        qname = dns.name.from_text(name)
        while True:
            response = self._query(str(qname), "SOA")
            for rrset in response.answer + response.authority:
                if rrset.rdtype == dns.rdatatype.SOA:
                    return rrset.name.to_text(omit_final_dot=True)
            if qname == dns.name.root:
                raise ProviderError(f"rfc2136: {self.server} is not authoritative for {name}")
            qname = qname.parent()

    def _rdataset(self, name: str) -> tuple[dns.rdataset.Rdataset | None, int]:
        response = self._query(name, "TXT")
        if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            raise ProviderError(f"rfc2136: reading {name}: {dns.rcode.to_text(response.rcode())}")
        for rrset in response.answer:
            if rrset.rdtype == dns.rdatatype.TXT and rrset.name == dns.name.from_text(name):
                return rrset, rrset.ttl
        return None, DEFAULT_TTL

    def read_txt(self, name: str) -> list[str]:
        rdataset, _ = self._rdataset(name)
        return [b"".join(r.strings).decode("utf-8", errors="replace") for r in rdataset or []]

    def read_txt_strings(self, name: str) -> list[tuple[str, ...]]:
        rdataset, _ = self._rdataset(name)
        return [tuple(s.decode("utf-8", errors="replace") for s in r.strings) for r in rdataset or []]

    def authoritative(self, domain: str) -> list[str]:
        return [self.server]

    def _write(self, change: Change) -> None:
        rdataset, ttl = self._rdataset(change.name)
        current = [b"".join(r.strings).decode("utf-8", errors="replace") for r in rdataset or []]
        if not same_values(current, change.before):
            raise ConflictError(change.name, change.before, current)
        zone = self.zone_of(change.name)
        owner = dns.name.from_text(change.name)  # absolute: a string would be taken relative to the zone
        update = dns.update.UpdateMessage(zone + ".", keyring=self._key)
        if rdataset is None:
            update.absent(owner, "TXT")  # RFC 2136 §2.4.3: RRset does not exist
        else:
            # §2.4.2: RRset exists, value dependent (the TTL of a prerequisite RR must be zero)
            update.present(owner, dns.rdataset.from_rdata_list(0, list(rdataset)))
        update.delete(owner, "TXT")
        for value in change.after:
            rdata = dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT,
                                            [s.encode() for s in change.strings_for(value)])
            update.add(owner, ttl, rdata)
        try:
            response = dns.query.tcp(update, self.host, port=self.port, timeout=self.timeout)
        except (OSError, dns.exception.DNSException) as err:
            raise ProviderError(f"rfc2136: update of {change.name} failed: {_reason(err)}") from None
        rcode = response.rcode()
        if rcode in (dns.rcode.NXRRSET, dns.rcode.YXRRSET):
            raise ConflictError(change.name, change.before, self.read_txt(change.name))
        if rcode == dns.rcode.NOTAUTH:
            raise ProviderError(f"rfc2136: {self.server} refused the TSIG signature (NOTAUTH): check the "
                                "key name, algorithm and secret")
        if rcode == dns.rcode.REFUSED:
            raise ProviderError(f"rfc2136: {self.server} REFUSED the update of {change.name}: the key is "
                                f"not allowed to update zone {zone}")
        if rcode != dns.rcode.NOERROR:
            raise ProviderError(f"rfc2136: update of {change.name} failed: {dns.rcode.to_text(rcode)}")


def _reason(err: BaseException) -> str:
    if isinstance(err, dns.tsig.PeerError):
        return f"TSIG rejected by the server ({type(err).__name__})"
    return str(err) or type(err).__name__


_KEY_FILE = re.compile(r'key\s+"?([^"\s{]+)"?\s*\{(.*?)\}\s*;', re.S)


def _read_key_file(path: Path) -> tuple[str, str, str]:
    try:
        text = path.read_text()
    except OSError as err:
        raise ProviderError(f"rfc2136: cannot read key file {path}: {err.strerror}") from None
    match = _KEY_FILE.search(text)
    algorithm = re.search(r"algorithm\s+\"?([\w-]+)\"?\s*;", match.group(2)) if match else None
    secret = re.search(r'secret\s+"([^"]+)"\s*;', match.group(2)) if match else None
    if not (match and algorithm and secret):
        raise ProviderError(f"rfc2136: {path} is not a BIND/Knot key file (key \"name\" {{ algorithm …; "
                            "secret \"…\"; }};)")
    return match.group(1), algorithm.group(1), secret.group(1)
