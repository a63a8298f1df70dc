"""RFC 2136 dynamic updates with TSIG (RFC 8945) through dnspython — BIND, Knot, PowerDNS.

Settings (``[providers.rfc2136]`` in spfguard.toml, or the environment):

* ``server``: ``host:port`` (``SPFGUARD_RFC2136_SERVER``);
* ``tsig_file``: a BIND/Knot key file (``key "name" { algorithm hmac-sha256; secret "…"; };``) — the recommended
  form — or ``tsig``: ``name:algorithm:secret`` (``SPFGUARD_RFC2136_TSIG``; ``env:VAR`` / ``file:PATH``);
* ``zone``: optional; found from the server's SOA answers otherwise.

The changes of a zone are **one** UPDATE message: for every name, the prerequisite is the exact TXT set the
plan was made from (RFC 2136 §2.4.2, "RRset exists, value dependent"; §2.4.3 "RRset does not exist" when there
was none), then the set is replaced. The server checks every prerequisite before it applies anything and applies
all or nothing (§3.2, §3.4): a true, atomic compare-and-set.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
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

from spfguard.hostport import format_host_port, parse_host_port
from spfguard.provider.base import Change, ConflictError, Provider, ProviderError, SettingsError, same_values

ALGORITHMS = ("hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha224", "hmac-sha1", "hmac-md5")
DEFAULT_TTL = 300


class Rfc2136Provider(Provider):
    name = "rfc2136"
    settings_keys = ("server", "tsig", "tsig_file", "zone", "timeout", "ttl")
    secret_keys = ("tsig",)
    env_defaults = {"server": "SPFGUARD_RFC2136_SERVER", "tsig": "SPFGUARD_RFC2136_TSIG",
                    "tsig_file": "SPFGUARD_RFC2136_TSIG_FILE"}
    path_keys = ("tsig_file",)
    guarantee = "atomic compare-and-set"
    credentials = "TSIG key: tsig_file (a BIND/Knot key file) or tsig = \"env:VAR\"; SPFGUARD_RFC2136_TSIG"

    def __init__(self, settings=None):
        super().__init__(settings)
        server = self.settings.get("server")
        if not server:
            raise SettingsError("rfc2136: no server: set SPFGUARD_RFC2136_SERVER=host:port or "
                                "[providers.rfc2136] server")
        self.host, self.port = parse_host_port(server, 53, "rfc2136 server")
        self.server = format_host_port(self.host, self.port)
        self._key = self._load_key()
        self.timeout = float(self.settings.get("timeout", 5))

    def _load_key(self) -> dns.tsig.Key | None:
        spec = self.secret("tsig")
        key_file = self.settings.get("tsig_file")
        if spec:
            name, algorithm, secret = _parse_spec(spec)
        elif key_file:
            name, algorithm, secret = _read_key_file(Path(key_file))
        else:
            return None  # unsigned updates: only for servers that allow them by address
        try:
            return dns.tsig.Key(name, secret, algorithm)
        except (ValueError, TypeError, dns.exception.DNSException):
            raise ProviderError("rfc2136: the TSIG key cannot be used (name or secret malformed; neither is "
                                "shown)") from None

    def describe(self) -> dict:
        return {"provider": self.name, "server": self.server, "tsig_key": str(self._key.name) if self._key else None}

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
        return None, int(self.settings.get("ttl", DEFAULT_TTL))

    def read_txt(self, name: str) -> list[str]:
        rdataset, _ = self._rdataset(name)
        return [b"".join(r.strings).decode("utf-8", errors="replace") for r in rdataset or []]

    def read_txt_strings(self, name: str) -> list[tuple[str, ...]]:
        rdataset, _ = self._rdataset(name)
        return [tuple(s.decode("utf-8", errors="replace") for s in r.strings) for r in rdataset or []]

    def authoritative(self, domain: str) -> list[str]:
        return [self.server]

    def _apply(self, zone: str, changes: Sequence[Change]) -> None:
        update = dns.update.UpdateMessage(zone + ".", keyring=self._key)
        for change in changes:
            rdataset, ttl = self._rdataset(change.name)
            current = [b"".join(r.strings).decode("utf-8", errors="replace") for r in rdataset or []]
            if not same_values(current, change.before):  # a clear message before the server's own check
                raise ConflictError(change.name, change.before, current)
            owner = dns.name.from_text(change.name)  # absolute: a string would be taken relative to the zone
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
            raise ProviderError(f"rfc2136: the update of zone {zone} failed: {_reason(err)}") from None
        rcode = response.rcode()
        if rcode in (dns.rcode.NXRRSET, dns.rcode.YXRRSET):  # a prerequisite failed: nothing was applied
            moved = next((c for c in changes if not same_values(self.read_txt(c.name), c.before)), changes[0])
            raise ConflictError(moved.name, moved.before, self.read_txt(moved.name))
        if rcode == dns.rcode.NOTAUTH:
            raise ProviderError(f"rfc2136: {self.server} refused the TSIG signature (NOTAUTH): check the "
                                "key name, algorithm and secret")
        if rcode == dns.rcode.REFUSED:
            raise ProviderError(f"rfc2136: {self.server} REFUSED the update of zone {zone}: the key is not "
                                "allowed to update it")
        if rcode != dns.rcode.NOERROR:
            raise ProviderError(f"rfc2136: the update of zone {zone} failed: {dns.rcode.to_text(rcode)}")


def _reason(err: BaseException) -> str:
    if isinstance(err, dns.tsig.PeerError):
        return f"TSIG rejected by the server ({type(err).__name__})"
    return str(err) or type(err).__name__


def _is_base64(text: str) -> bool:
    try:
        return len(base64.b64decode(text, validate=True)) >= 8
    except (binascii.Error, ValueError):
        return False


def _parse_spec(spec: str) -> tuple[str, str, str]:
    """``name:algorithm:secret``. The algorithm is checked first, and no part is ever shown: when the parts are in
    another order, a part shown could be the secret."""
    parts = spec.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise SettingsError("rfc2136: TSIG must be name:algorithm:secret (the value is not shown); a key file "
                            "(tsig_file) is the recommended form")
    name, algorithm, secret = parts
    if algorithm.lower() not in ALGORITHMS:
        where = next((i for i, p in enumerate(parts) if p.lower() in ALGORITHMS), None)
        hint = f": the algorithm is part {where + 1}, expected part 2" if where is not None else \
            f": part 2 is not one of {', '.join(ALGORITHMS)}"
        raise SettingsError(f"rfc2136: TSIG must be name:algorithm:secret{hint} (no part is shown)")
    if not _is_base64(secret) or (_is_base64(name) and not re.fullmatch(r"[A-Za-z0-9._-]+", name)):
        raise SettingsError("rfc2136: TSIG must be name:algorithm:secret: the secret (part 3) is not valid base64 "
                            "(no part is shown)")
    if _looks_like_a_secret(name):
        # `SECRET:hmac-sha256:name` with a name that happens to be base64: taking it as given would send the secret
        # as the key's name, in the clear, in every update (and write it into the backup)
        raise SettingsError("rfc2136: TSIG must be name:algorithm:secret: part 1 looks like a secret (base64 of "
                            f"{MIN_SECRET_BYTES} bytes or more), not a key name — are the parts the other way round? "
                            "(no part is shown; a key file, tsig_file, avoids the question)")
    return name, algorithm.lower(), secret


MIN_SECRET_BYTES = 16  # RFC 8945 §6 wants keys at least as long as the hash's output; 128 bits is a floor


def _looks_like_a_secret(name: str) -> bool:
    """A TSIG key name is a DNS name: padding, '+' or '/' never appear in one, and a dot-less run of base64 long
    enough to be a key is no name anyone chooses."""
    if any(c in name for c in "=+/"):
        return True
    try:
        decoded = base64.b64decode(name, validate=True)
    except (binascii.Error, ValueError):
        return False
    return "." not in name and len(decoded) >= MIN_SECRET_BYTES


_KEY_FILE = re.compile(r'key\s+"?([^"\s{]+)"?\s*\{(.*?)\}\s*;', re.S)


def _read_key_file(path: Path) -> tuple[str, str, str]:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ProviderError(f"rfc2136: cannot read key file {path}: {getattr(err, 'strerror', None) or err}") \
            from None
    match = _KEY_FILE.search(text)
    algorithm = re.search(r"algorithm\s+\"?([\w-]+)\"?\s*;", match.group(2)) if match else None
    secret = re.search(r'secret\s+"([^"]+)"\s*;', match.group(2)) if match else None
    if not (match and algorithm and secret):
        raise ProviderError(f"rfc2136: {path} is not a BIND/Knot key file (key \"name\" {{ algorithm …; "
                            "secret \"…\"; }};)")
    if algorithm.group(1).lower() not in ALGORITHMS:
        raise ProviderError(f"rfc2136: {path}: algorithm {algorithm.group(1)!r} is not one of {', '.join(ALGORITHMS)}")
    return match.group(1), algorithm.group(1).lower(), secret.group(1)
