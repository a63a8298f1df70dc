"""One parser for HOST[:PORT] wherever spfguard takes one (nameservers, smart hosts, SMTP relays, the RFC 2136
server): ``host``, ``host:port``, ``192.0.2.1:53``, ``[2001:db8::1]:53``, ``[2001:db8::1]`` or a bare IPv6
address."""

from __future__ import annotations

import ipaddress
import re

from spfguard.errors import UserError

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?$", re.I)


def parse_ip(text: str, where: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An IPv4 or IPv6 address; a zone id (``fe80::1%eth0``) is refused: it means something on one host only."""
    text = text.strip()
    if "%" in text:
        raise UserError(f"{where}: {text!r} has a zone id ({text[text.index('%'):]}), which only means something "
                        f"on one host; give the address alone ({text.split('%')[0]})")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise UserError(f"{where}: {text!r} is not an IPv4 or IPv6 address") from None


def parse_host_port(text: str, default_port: int, where: str) -> tuple[str, int]:
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"{where}: empty; expected HOST or HOST:PORT")
    text = text.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise UserError(f"{where}: {text!r}: expected [IPv6]:PORT")
        port_text = rest[1:]
        if not isinstance(parse_ip(host, where), ipaddress.IPv6Address):
            raise UserError(f"{where}: {text!r}: brackets are for IPv6 addresses")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if text.count(":") > 1 and not text.startswith("["):
        parse_ip(host, where)  # a bare IPv6 address (no port)
    elif not text.startswith("["):
        try:
            parse_ip(host, where)
        except UserError:
            if "%" in host:
                raise
            if not _HOST.match(host):
                raise UserError(f"{where}: {text!r}: {host!r} is not a host name or an IP address") from None
    if port_text and not (port_text.isdigit() and 0 < int(port_text) < 65536):
        raise UserError(f"{where}: {text!r}: the port must be a number from 1 to 65535")
    return host.lower().rstrip("."), int(port_text) if port_text else default_port


def format_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
