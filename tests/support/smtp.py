"""Real SMTP servers (aiosmtpd) on loopback, and test certificates made with cryptography."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.knot import free_port


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, issuer_name: str, key, issuer_key, *, ca: bool, names=()):
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer_name))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        sans = [x509.IPAddress(ipaddress.ip_address(n)) if n[0].isdigit() else x509.DNSName(n) for n in names]
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class Certificates:
    ca_file: Path
    self_signed: ssl.SSLContext
    ca_signed: ssl.SSLContext


def make_certificates(directory: Path) -> Certificates:
    def write(name, cert, key):
        (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (directory / f"{name}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                                  serialization.PrivateFormat.PKCS8,
                                                                  serialization.NoEncryption()))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(directory / f"{name}.pem", directory / f"{name}.key")
        return context

    ca_key, leaf_key, self_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _cert("spfguard test CA", "spfguard test CA", ca_key, ca_key, ca=True)
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    leaf = _cert("mx.smtp.test", "spfguard test CA", leaf_key, ca_key, ca=False,
                 names=["mx.smtp.test", "mx2.smtp.test", "127.0.0.1"])
    self_signed = _cert("self.smtp.test", "self.smtp.test", self_key, self_key, ca=False, names=["self.smtp.test"])
    return Certificates(directory / "ca.pem", write("self", self_signed, self_key), write("leaf", leaf, leaf_key))


class RefuseRecipients:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"


class Accept:
    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append(envelope)
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, handler, tls_context: ssl.SSLContext | None = None):
        self.port = free_port()
        self.handler = handler
        self.controller = Controller(handler, hostname="127.0.0.1", port=self.port, tls_context=tls_context,
                                     require_starttls=False, server_hostname="mx.smtp.test")

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
