"""A private Dovecot IMAP server for the tests: an MSSanté operator's mailbox stand-in.

Its own configuration in a temporary folder: implicit TLS on 127.0.0.1 at a free port, a client certificate
required and verified against the test CA (as MSSanté operators require of an application mailbox), one or more
mailboxes (the platform's, a community's: `others`), each user named by its own certificate's CN, who signs in with
SASL EXTERNAL (the certificate alone) or LOGIN (its password too), a maildir each. Run in the foreground
(`dovecot -F -c CONF`) like the tests' PostgreSQL, as the current user, or under root (CI) with the unprivileged
users Debian's package creates. Mail is delivered by Dovecot's own
LDA, as the operator's mail server would. Needs Debian's `dovecot-imapd` (scripts/test.sh installs it).
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.notify.certs import Pki

HOST = "127.0.0.1"
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
LDA = "/usr/lib/dovecot/dovecot-lda"
PASSWORD = "mot-de-passe-de-la-bal"


def require_dovecot() -> None:
    """Skip the calling test, saying why, when Dovecot is not installed."""
    if not (os.access(DOVECOT, os.X_OK) and os.access(LDA, os.X_OK)):
        pytest.skip("Dovecot is not installed: apt-get install dovecot-imapd (scripts/test.sh does it)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class DovecotPeer:
    """One running Dovecot with the mailbox `login`, whose certificate is the PKI's client certificate, and the
    mailboxes of `others` (login -> its certificate and key, issued by the same CA: `Pki.issue_client`)."""

    def __init__(
        self, pki: Pki, *, login: str, password: str = PASSWORD, others: Mapping[str, tuple[Path, Path]] | None = None
    ) -> None:
        self.pki, self.login, self.password = pki, login, password
        # Each mailbox's certificate and key: what its owner presents (SASL EXTERNAL names the user by its CN).
        self.certificates: dict[str, tuple[Path, Path]] = {login: (pki.client_cert, pki.client_key), **(others or {})}
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="snp-dovecot-"))
        self.process: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:  # Dovecot will not run its mail or login processes as root
            self.mail_user, self.login_user, self.internal_group = "dovecot", "dovenull", "dovecot"
        else:
            self.mail_user = self.login_user = pwd.getpwuid(os.geteuid()).pw_name
            self.internal_group = grp.getgrgid(os.getegid()).gr_name

    @property
    def conf(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def log(self) -> Path:
        return self.root / "dovecot.log"

    def _write_config(self) -> None:
        mail, run, state = self.root / "mail", self.root / "run", self.root / "state"
        for folder in (mail, run, state):
            folder.mkdir()
        ssl_dir = self.root / "ssl"
        ssl_dir.mkdir()
        for name, source in (
            ("server.crt", self.pki.server_cert),
            ("server.key", self.pki.server_key),
            ("ca.crt", self.pki.ca_cert),
        ):
            shutil.copyfile(source, ssl_dir / name)
        (self.root / "passwd").write_text("".join(f"{login}:{{PLAIN}}{self.password}:::::::\n" for login in self.certificates))
        (self.root / "certificates").write_text("".join(f"{login}:::::::nopassword=y\n" for login in self.certificates))
        user = pwd.getpwnam(self.mail_user)
        if os.geteuid() == 0:
            self.root.chmod(0o755)  # the auth process (Dovecot's user) reads the passwd files
            os.chown(mail, user.pw_uid, user.pw_gid)
            os.chown(state, user.pw_uid, user.pw_gid)
            os.chmod(ssl_dir, 0o700)
        self.conf.write_text(
            f"""
base_dir = {run}
state_dir = {state}
log_path = {self.log}
instance_name = snp-test-{self.port}
protocols = imap
listen = {HOST}
ssl = required
ssl_cert = <{ssl_dir / "server.crt"}
ssl_key = <{ssl_dir / "server.key"}
ssl_ca = <{ssl_dir / "ca.crt"}
ssl_verify_client_cert = yes
ssl_require_crl = no
ssl_min_protocol = TLSv1.2
auth_ssl_require_client_cert = yes
auth_ssl_username_from_cert = yes
ssl_cert_username_field = commonName
auth_mechanisms = plain login external
auth_failure_delay = 0
disable_plaintext_auth = yes
postmaster_address = postmaster@localhost
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root / "passwd"}
  mechanisms = plain login
}}
passdb {{
  driver = passwd-file
  args = username_format=%u {self.root / "certificates"}
  mechanisms = external
}}
userdb {{
  driver = static
  args = uid={user.pw_uid} gid={user.pw_gid} home={mail}/%u allow_all_users=yes
}}
mail_location = maildir:{mail}/%u/Maildir
first_valid_uid = 1
default_login_user = {self.login_user}
default_internal_user = {self.mail_user}
default_internal_group = {self.internal_group}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {self.port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""
        )

    def start(self) -> DovecotPeer:
        """Write the configuration, start Dovecot in the foreground and wait until it accepts connections."""
        require_dovecot()
        self._write_config()
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self._diagnostics()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not listen on {HOST}:{self.port}: {self._diagnostics()}")

    def _diagnostics(self) -> str:
        stderr = self.process.stderr.read().decode(errors="replace") if self.process and self.process.stderr else ""
        log = self.log.read_text(errors="replace") if self.log.exists() else ""
        return (stderr + log)[-3000:]

    def stop(self) -> None:
        """Stop Dovecot and remove its folder."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stderr:
                self.process.stderr.close()
            self.process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> DovecotPeer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def deliver(self, raw: bytes, *, sender: str = "MAILER-DAEMON@operateur.mssante.example", to: str | None = None) -> None:
        """Deliver a mail to a mailbox (`to`, by default `login`'s) through Dovecot's LDA, as the operator's mail
        server would."""
        mailbox = self._known(to)
        done = subprocess.run(
            [LDA, "-c", str(self.conf), "-d", mailbox, "-f", sender], input=raw, capture_output=True, timeout=30, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"dovecot-lda failed ({done.returncode}): {done.stderr.decode(errors='replace')[-2000:]}")

    def _known(self, login: str | None) -> str:
        mailbox = login or self.login
        if mailbox not in self.certificates:
            raise ValueError(f"no mailbox {mailbox!r} on this Dovecot")
        return mailbox

    def context(self, login: str | None = None) -> ssl.SSLContext:
        """Return a client TLS context presenting the certificate of a mailbox (by default `login`'s)."""
        cert, key = self.certificates[self._known(login)]
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        context.load_cert_chain(str(cert), str(key))
        return context

    def client(self, login: str | None = None) -> imaplib.IMAP4_SSL:
        """Return an IMAP connection signed in as a mailbox's owner (by default `login`), with its own certificate,
        INBOX selected: to look at what the service did."""
        mailbox = self._known(login)
        conn = imaplib.IMAP4_SSL(HOST, self.port, ssl_context=self.context(mailbox), timeout=10)
        conn.login(mailbox, self.password)
        conn.select("INBOX")
        return conn

    def flags(self, login: str | None = None) -> dict[int, set[str]]:
        """Return each mail's flags by UID, in a mailbox (by default `login`'s)."""
        conn = self.client(login)
        try:
            kind, data = conn.uid("FETCH", "1:*", "(UID FLAGS)")
            out: dict[int, set[str]] = {}
            for item in data:
                if not isinstance(item, bytes):
                    continue
                text = item.decode()
                uid = int(text.split("UID ")[1].split()[0].rstrip(")"))
                flags = text.split("FLAGS (")[1].split(")")[0]
                out[uid] = set(flags.split())
            return out
        finally:
            conn.logout()

    def empty(self, login: str | None = None) -> None:
        """Delete every mail of a mailbox (by default `login`'s)."""
        conn = self.client(login)
        try:
            conn.uid("STORE", "1:*", "+FLAGS.SILENT", "(\\Deleted)")
            conn.expunge()
        finally:
            conn.logout()

    def settings(self, **changes: Any) -> dict[str, Any]:
        """Return the DISPATCH_IMAP_* settings of a platform reading this mailbox (its certificate is DISPATCH_SMTP_*)."""
        return {
            "DISPATCH_IMAP_HOST": HOST,
            "DISPATCH_IMAP_PORT": str(self.port),
            "DISPATCH_IMAP_TIMEOUT": "5",
            "DISPATCH_SMTP_CERT": str(self.pki.client_cert),
            "DISPATCH_SMTP_KEY": str(self.pki.client_key),
            "DISPATCH_SMTP_CA": str(self.pki.ca_cert),
            **changes,
        }
