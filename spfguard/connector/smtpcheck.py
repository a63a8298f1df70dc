"""Validate smart hosts locally the way Exchange Online's connector validation does, and say why a step fails:
resolve → connect (port 25 unless told) → banner → EHLO → STARTTLS offered → TLS → certificate per the
connector's TLS setting → optionally RCPT TO each validation recipient (and, with ``send_test``, a real test
message) → QUIT."""

from __future__ import annotations

import asyncio
import ipaddress
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from typing import cast

from spfguard.connector.model import SmartHost, Tls
from spfguard.dns.base import DnsClient, Status
from spfguard.errors import SpfguardError
from spfguard.mail import mail_headers
from spfguard.net import Deadline, DeadlineExceeded


@dataclass
class Check:
    title: str  # as Exchange shows it: "Check connectivity to 'aspmx.l.google.com'"
    ok: bool
    reason: str | None = None
    details: dict = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "Succeed" if self.ok else "Failed"

    def to_json(self) -> dict:
        return {"check": self.title, "status": self.status, "reason": self.reason, **self.details}


@dataclass
class Options:
    tls: Tls
    timeout: float = 10.0
    helo: str = "spfguard.invalid"
    ca_file: str | None = None
    mail_from: str = ""  # the null sender, like Exchange's validation probes
    send_test: bool = False
    system_resolver: bool = False  # also the system's resolver (/etc/hosts) for names DNS does not know


def _system_addresses(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class StepFailed(SpfguardError):
    """One validation step failed; the message is the reason shown beside it."""


async def resolve(host: str, dns: DnsClient, system: bool = False) -> list[str]:
    """A smart host is an IP address, a name with A/AAAA records, or a domain whose MX hosts have them. With
    ``system``, a name DNS does not know is also asked of the system's resolver (``/etc/hosts``: ``localhost``, a
    relay named only there)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    a, aaaa = await asyncio.gather(dns.query(host, "A"), dns.query(host, "AAAA"))
    addresses = [str(x) for x in a.records + aaaa.records]
    if addresses:
        return addresses
    if system and (known := await asyncio.to_thread(_system_addresses, host)):
        return known
    if a.status is Status.TEMPFAIL:
        raise StepFailed(f"DNS lookup of {host} failed: {a.error or 'timeout'}")
    mx = await dns.query(host, "MX")
    for _, exchange in sorted(mx.records):
        a = await dns.query(exchange, "A")
        addresses += [str(x) for x in a.records]
    if addresses:
        return addresses
    if a.status is Status.NXDOMAIN or mx.status is Status.NXDOMAIN:
        raise StepFailed(f"{host} does not resolve (NXDOMAIN)")
    raise StepFailed(f"{host} has no A, AAAA or MX records")


def _cert_details(der: bytes | None) -> dict:
    if not der:
        return {}
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = san.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    cn = [a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    return {"subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
            "names": list(dict.fromkeys(names or cn)), "not_after": cert.not_valid_after_utc.isoformat()}


def name_matches(pattern: str, names: list[str]) -> bool:
    """Exchange DomainValidation: the certificate's subject or SAN names match TlsDomain ('*.contoso.com'
    covers every name below contoso.com; a wildcard certificate name covers one label)."""
    pattern = pattern.lower().rstrip(".")
    for name in (n.lower().rstrip(".") for n in names):
        if pattern.startswith("*."):
            base = pattern[2:]
            if name == pattern or name.endswith("." + base):
                return True
        elif name == pattern or (name.startswith("*.") and pattern.split(".", 1)[-1] == name[2:]):
            return True
    return False


class _Session:
    """One SMTP conversation with a smart host, step by step, each failure turned into a reason. Every step has
    a total deadline of ``--smtp-timeout`` seconds: a server that trickles its banner or never ends a multi-line
    reply fails the step in time."""

    def __init__(self, name: str, address: str, port: int, options: Options):
        self.name, self.address, self.port, self.options = name, address, port, options
        self.smtp: smtplib.SMTP | None = None
        self.details: dict = {"address": address, "port": port}

    def step(self, what: str):
        """The deadline of one step; when it passes, the step fails with a reason."""
        return _StepDeadline(self.options.timeout, what, self)

    def connect(self) -> None:
        self.smtp = smtplib.SMTP(timeout=self.options.timeout + 1)  # per read; each step's deadline decides
        setattr(self.smtp, "_host", self.name)  # noqa: B010 - the name presented in the TLS handshake (SNI)
        start = time.monotonic()
        try:
            with self.step("the banner"):
                code, banner = self.smtp.connect(self.address, self.port)
        except ConnectionRefusedError:
            raise StepFailed(f"connection to {self.address} port {self.port} refused") from None
        except TimeoutError:
            raise StepFailed(f"no answer from {self.address} port {self.port} within {self.options.timeout:g}s "
                             "(filtered, or the host is down)") from None
        except smtplib.SMTPServerDisconnected:
            raise StepFailed(f"{self.address} closed the connection before its banner") from None
        except OSError as err:
            raise StepFailed(f"cannot connect to {self.address} port {self.port}: {err.strerror or err}") from None
        self.details["banner"] = banner.decode(errors="replace")
        self.details["connect_ms"] = round((time.monotonic() - start) * 1000)
        if code != 220:
            raise StepFailed(f"banner {code} {self.details['banner']}: the server does not accept mail")

    @property
    def client(self) -> smtplib.SMTP:
        if self.smtp is None:
            raise StepFailed("not connected")
        return self.smtp

    def ehlo(self) -> None:
        with self.step("the EHLO reply"):
            code, reply = self.client.ehlo(self.options.helo)
        if code != 250:
            raise StepFailed(f"EHLO refused: {code} {reply.decode(errors='replace')}")
        if not self.client.has_extn("starttls"):
            raise StepFailed("the server does not offer STARTTLS; the connector always requires TLS")

    def starttls(self) -> None:
        tls = self.options.tls
        context = ssl.create_default_context(cafile=self.options.ca_file)
        context.check_hostname = False  # names are checked against the connector's TLS domain below
        if tls.mode == "any":
            context.verify_mode = ssl.CERT_NONE
        try:
            with self.step("STARTTLS and the TLS handshake"):
                code, reply = self.client.starttls(context=context)
        except ssl.SSLCertVerificationError as err:
            details = _peek_certificate(self.name, self.address, self.port, self.options)
            self.details["certificate"] = details
            issuer = details.get("issuer", "an unknown issuer")
            raise StepFailed(f"certificate not trusted ({err.verify_message}): issued by {issuer}; the "
                             f"connector's TLS setting '{tls}' requires a certificate from a trusted CA") from None
        except (ssl.SSLError, OSError, smtplib.SMTPException) as err:
            raise StepFailed(f"TLS handshake failed: {err}") from None
        if code != 220:
            raise StepFailed(f"STARTTLS refused: {code} {reply.decode(errors='replace')}")
        sock = cast(ssl.SSLSocket, self.client.sock)
        self.details["tls_version"] = sock.version()
        self.details["certificate"] = _cert_details(sock.getpeercert(binary_form=True))
        if tls.mode == "domain" and not name_matches(tls.domain or "", self.details["certificate"].get("names", [])):
            names = ", ".join(self.details["certificate"].get("names", [])) or "none"
            raise StepFailed(f"certificate names ({names}) do not match the TLS domain {tls.domain}")
        with self.step("the EHLO reply after STARTTLS"):
            code, reply = self.client.ehlo(self.options.helo)  # RFC 3207 §4.2: start over after TLS
        if code != 250:
            raise StepFailed(f"EHLO after STARTTLS refused: {code} {reply.decode(errors='replace')}")

    def recipient(self, address: str) -> None:
        with self.step(f"the test of {address}"):
            self._recipient(address)

    def _recipient(self, address: str) -> None:
        code, reply = self.client.mail(self.options.mail_from)
        if code != 250:
            raise StepFailed(f"MAIL FROM:<{self.options.mail_from}> refused: {code} {reply.decode(errors='replace')}")
        code, reply = self.client.rcpt(address)
        if code not in (250, 251):
            self.client.rset()
            raise StepFailed(f"RCPT TO:<{address}> refused: {code} {reply.decode(errors='replace')}")
        if self.options.send_test:
            sender = self.options.mail_from or f"postmaster@{self.options.helo}"
            test = EmailMessage()
            test["From"], test["To"], test["Subject"] = sender, address, "spfguard connector validation"
            mail_headers(test, sender)
            test.set_content("A test message sent by spfguard connector validate --send-test.\n")
            message = test.as_bytes(policy=SMTP)
            code, reply = self.client.data(message)
            if code != 250:
                raise StepFailed(f"the test message was refused: {code} {reply.decode(errors='replace')}")
        else:
            self.client.rset()

    def close(self) -> None:
        if self.smtp is not None:
            try:
                with self.step("QUIT"):
                    self.smtp.quit()
            except (smtplib.SMTPException, OSError, StepFailed):
                self.smtp.close()


class _StepDeadline(Deadline):
    def __init__(self, seconds: float, what: str, session: _Session):
        super().__init__(seconds, what, lambda: session.smtp.sock if session.smtp else None)
        self.session = session

    def __exit__(self, kind, value, tb) -> None:
        try:
            super().__exit__(kind, value, tb)
        except DeadlineExceeded:
            raise StepFailed(f"{self.what}: no complete reply from {self.session.address} port {self.session.port} "
                             f"within {self.seconds:g}s (the server trickles or never ends its reply)") from None


def _peek_certificate(name: str, address: str, port: int, options: Options) -> dict:
    """Fetch the certificate without verifying it, to name its issuer in the failure message."""
    smtp = smtplib.SMTP(timeout=options.timeout)
    setattr(smtp, "_host", name)  # noqa: B010 - the name presented in the TLS handshake (SNI)
    try:
        with Deadline(3 * options.timeout, "reading the certificate", lambda: smtp.sock):
            smtp.connect(address, port)
            smtp.ehlo(options.helo)
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            smtp.starttls(context=context)
            return _cert_details(cast(ssl.SSLSocket, smtp.sock).getpeercert(binary_form=True))
    except (OSError, smtplib.SMTPException, ssl.SSLError):
        return {}
    finally:
        try:
            smtp.close()
        except OSError:
            pass


def _connectivity(host: SmartHost, addresses: list[str], options: Options) -> tuple[_Session | None, Check]:
    title = f"Check connectivity to '{host}'"
    last: StepFailed | None = None
    for address in addresses:  # like a sending MTA: the next address when one cannot be reached
        session = _Session(host.host, address, host.port, options)
        try:
            session.connect()
            session.ehlo()
            session.starttls()
            return session, Check(title, True, None, session.details)
        except StepFailed as failed:
            session.close()
            last = failed
            if "connect" not in str(failed) and "no answer" not in str(failed):
                return None, Check(title, False, str(failed), session.details)
    return None, Check(title, False, str(last), {"addresses": addresses})


async def validate(hosts: list[SmartHost], recipients: list[str], options: Options, dns: DnsClient) -> list[Check]:
    """Connectivity rows for every smart host, then one 'Send test email' row per recipient."""

    async def one(host: SmartHost):
        try:
            addresses = await resolve(host.host, dns, options.system_resolver)
        except StepFailed as failed:
            return None, Check(f"Check connectivity to '{host}'", False, str(failed))
        return await asyncio.to_thread(_connectivity, host, addresses, options)

    results = await asyncio.gather(*(one(h) for h in hosts))
    checks = [check for _, check in results]
    sessions = [s for s, _ in results if s is not None]
    verb = "Send test email to" if options.send_test else "Check recipient"
    for recipient in recipients:
        title = f"{verb} '{recipient}'"
        if not sessions:
            checks.append(Check(title, False, "no smart host could be reached"))
            continue
        try:
            await asyncio.to_thread(sessions[0].recipient, recipient)
            checks.append(Check(title, True, None, {"via": sessions[0].address}))
        except StepFailed as failed:
            checks.append(Check(title, False, str(failed), {"via": sessions[0].address}))
        except (smtplib.SMTPException, OSError) as err:
            checks.append(Check(title, False, f"the conversation broke off: {err}"))
    for session in sessions:
        await asyncio.to_thread(session.close)
    return checks
