"""Headers every message spfguard sends carries — alerts, digests, ``connector validate --send-test`` — so that
receivers accept it: RFC 5322 §3.6 requires ``Date``; large providers refuse mail without a ``Message-ID``;
``Auto-Submitted: auto-generated`` (RFC 3834) keeps auto-responders quiet."""

from __future__ import annotations

import email.utils
from email.message import EmailMessage


def mail_headers(message: EmailMessage, sender: str, key: str | None = None) -> None:
    """``Date``, ``Message-ID`` (from the batch key when there is one: a batch sent again after a crash keeps
    its Message-ID, so the receiving mailbox can drop the duplicate) and ``Auto-Submitted``."""
    domain = sender.rpartition("@")[2] or "spfguard.invalid"
    message["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = f"<{key}@{domain}>" if key else email.utils.make_msgid("spfguard", domain=domain)
    message["Auto-Submitted"] = "auto-generated"
