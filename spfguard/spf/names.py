"""Which names SPF looks up (RFC 7208 §4.3, §4.8, §7.3): used by check_host() and by the tree walk alike."""

from __future__ import annotations


def valid_name(name: str) -> bool:
    """RFC 1035 §2.3.4: labels of 1..63 octets, 253 in all (no domain literals). A single label is a name too:
    the targets of a, mx, ptr and exists are looked up whatever their label count (RFC 7208 §4.8)."""
    name = name[:-1] if name.endswith(".") else name
    if not name or len(name) > 253 or name.startswith("["):
        return False
    return all(0 < len(label) <= 63 for label in name.split("."))


def valid_domain(name: str) -> bool:
    """RFC 7208 §4.3: the <domain> of check_host() (the checked domain, an include or redirect target) must
    also be a multi-label name; otherwise the result is "none"."""
    return valid_name(name) and "." in name.rstrip(".")


def truncate_domain(name: str) -> str:
    """RFC 7208 §7.3: drop left-hand labels until the expanded name fits in 253 characters."""
    while len(name.rstrip(".")) > 253 and "." in name:
        name = name.split(".", 1)[1]
    return name
