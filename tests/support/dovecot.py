"""A real Dovecot IMAP server (Debian package ``dovecot-imapd``) on loopback ports — IMAPS with a certificate of
the test CA, and plain IMAP with STARTTLS — with one throw-away user whose mail is a Maildir in the test's folder.
"""

from __future__ import annotations

import imaplib
import os
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.knot import free_port
from tests.support.smtp import make_certificates
from tests.support.system import stop_process

USER, PASSWORD = "dmarc-reports", "s3cret-imap-password"


@dataclass
class DovecotServer:
    binary: str
    workdir: Path
    imap_port: int = 0
    imaps_port: int = 0
    process: subprocess.Popen | None = None
    ca_file: Path | None = None
    home: Path | None = None  # where the user's Maildir lives

    def start(self) -> DovecotServer:
        certs = self.workdir / "certs"
        certs.mkdir(parents=True, exist_ok=True)
        self.ca_file = make_certificates(certs).ca_file
        self.imap_port, self.imaps_port = free_port(), free_port()
        for sub in ("run", "state", "home"):
            (self.workdir / sub).mkdir(exist_ok=True)
        (self.workdir / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        if os.getuid() == 0:  # as root (CI): mail processes may not run as root; the Maildir goes to nobody
            import pwd
            import tempfile

            nobody = pwd.getpwnam("nobody")
            uid, gid = nobody.pw_uid, nobody.pw_gid
            home = Path(tempfile.mkdtemp(prefix="spfguard-dovecot-"))
            os.chown(home, uid, gid)
            users = "service auth {\n  user = root\n}\nservice auth-worker {\n  user = root\n}\n"
        else:  # a developer's laptop: everything as the user running the tests
            import getpass

            uid, gid, home = os.getuid(), os.getgid(), self.workdir / "home"
            me = getpass.getuser()
            users = f"default_internal_user = {me}\ndefault_login_user = {me}\n"
        self.home = home
        conf = self.workdir / "dovecot.conf"
        conf.write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {self.workdir}/run
state_dir = {self.workdir}/state
log_path = {self.workdir}/dovecot.log
info_log_path = {self.workdir}/dovecot.log
ssl = yes
ssl_cert = <{certs}/leaf.pem
ssl_key = <{certs}/leaf.key
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.workdir}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={home}/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
{users}""")
        self.process = subprocess.Popen([self.binary, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.process.stderr.read().decode()[-2000:]}\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.imap_port), timeout=0.3) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"dovecot did not answer within 15 s:\n{self.log()}")

    def log(self) -> str:
        path = self.workdir / "dovecot.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def client(self) -> imaplib.IMAP4_SSL:
        """The test's own IMAP client (to put messages in and look at folders), trusting the test CA."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        client = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=context)
        client.login(USER, PASSWORD)
        return client

    def deliver(self, *messages: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            for message in messages:
                client.append(folder, "", imaplib.Time2Internaldate(time.time()), message)
        finally:
            client.logout()

    def count(self, folder: str) -> int:
        client = self.client()
        try:
            status, data = client.select(folder, readonly=True)
            return int(data[0]) if status == "OK" else -1
        finally:
            client.logout()

    def stop(self) -> None:
        import shutil

        stop_process(self.process)
        if self.home != self.workdir / "home":
            shutil.rmtree(self.home, ignore_errors=True)
