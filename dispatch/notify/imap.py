"""Mailbox adapter reading the platform's own MSSanté mailbox over IMAP with TLS and its client certificate.

MSSanté operators open an application mailbox to the holder of its certificate: TLS with the same client
certificate as SMTP, then LOGIN when a password is set, else SASL EXTERNAL (the identity is the certificate's).
Nothing of a mail's content is ever logged here: UIDs, sizes and types only.
"""

from __future__ import annotations

import base64
import contextlib
import imaplib
import re
import socket
import ssl
from collections.abc import Iterator, Mapping
from typing import Any

from dispatch.notify.mailboxes import certificate_paths
from dispatch.notify.ports import Unseen
from dispatch.notify.smtp import client_context, ssl_cause, tls_detail

DEFAULT_PORT = 993
DEFAULT_FOLDER = "INBOX"
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
BATCH = 200  # UIDs per FETCH command: keeps command lines short
FETCH_BATCH = 10  # mails read per FETCH command: what one answer holds in memory is 10 times the size cap


class MailboxError(Exception):
    """The mailbox could not be read; the message says why, with nothing of any mail."""


class ImapSession:
    """One open IMAP connection with the folder selected (read-write: reading marks nothing until told)."""

    def __init__(self, conn: imaplib.IMAP4, validity: str) -> None:
        self.conn = conn
        self.validity = validity

    def unseen(self, since: int = 1) -> list[Unseen]:
        """List the mails without the \\Seen flag from UID `since` on, with their size and Content-Type, bodies
        left unread: a poll asks only about the mails that came after those it already looked at."""
        # "n:*" always includes the highest UID, even below n (RFC 3501 §6.4.8): filtered below.
        found_uids = self._command("SEARCH", None, "UID", f"{max(since, 1)}:*", "UNSEEN")[0].split()
        uids = [uid for uid in found_uids if uid.isdigit() and int(uid) >= since]
        found: list[Unseen] = []
        for start in range(0, len(uids), BATCH):
            chunk = b",".join(uids[start : start + BATCH]).decode()
            data = self._command("FETCH", chunk, "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (CONTENT-TYPE)])")
            for item in data:
                if not isinstance(item, tuple):
                    continue
                uid, size = _UID.search(item[0]), _SIZE.search(item[0])
                if uid is None:
                    continue
                header = item[1].decode("ascii", "replace")
                content_type = " ".join(header.partition(":")[2].split()) if ":" in header else ""
                found.append(Unseen(uid.group(1).decode(), int(size.group(1)) if size else 0, content_type))
        return sorted(found, key=lambda mail: int(mail.uid))

    def fetch(self, uids: list[str], max_bytes: int) -> dict[str, bytes]:
        """Return these mails' first `max_bytes` bytes (BODY.PEEK[]<0.n>: never more, whatever their size; the
        \\Seen flag is left alone)."""
        out: dict[str, bytes] = {}
        for start in range(0, len(uids), FETCH_BATCH):
            data = self._command("FETCH", ",".join(uids[start : start + FETCH_BATCH]), f"(UID BODY.PEEK[]<0.{max_bytes}>)")
            for item in data:
                if isinstance(item, tuple) and (uid := _UID.search(item[0])) is not None:
                    out[uid.group(1).decode()] = item[1][:max_bytes]  # a server that sent more is not believed
        return out

    def mark_seen(self, uids: list[str]) -> None:
        """Set the \\Seen flag on these mails."""
        for start in range(0, len(uids), BATCH):
            self._command("STORE", ",".join(uids[start : start + BATCH]), "+FLAGS.SILENT", "(\\Seen)")

    def _command(self, *args: Any) -> list[Any]:
        """Run one UID command; answer its data, or raise MailboxError with the server's words."""
        try:
            kind, data = self.conn.uid(*args)
        except (imaplib.IMAP4.error, OSError) as exc:
            raise MailboxError(classify(exc)) from exc
        if kind != "OK":
            raise MailboxError(f"{args[0]} refused: {_text(data)}")
        return list(data) if data and data != [None] else [b""]


class ImapMailbox:
    """MailboxPort adapter: one IMAP connection per poll, over implicit TLS (port 993)."""

    def __init__(
        self,
        host: str,
        port: int = DEFAULT_PORT,
        *,
        folder: str = DEFAULT_FOLDER,
        user: str | None = None,
        password: str | None = None,
        cert: str | None = None,
        key: str | None = None,
        ca: str | None = None,
        timeout: float = 20.0,
    ) -> None:
        if password and not user:
            raise ValueError("DISPATCH_IMAP_PASSWORD needs DISPATCH_IMAP_USER")
        if not password and not cert:
            raise ValueError(
                "the MSSanté mailbox needs the platform's certificate (DISPATCH_SMTP_CERT and DISPATCH_SMTP_KEY) "
                "or DISPATCH_IMAP_USER and DISPATCH_IMAP_PASSWORD"
            )
        self.host, self.port, self.folder = host, port, folder
        self.user, self.password, self.timeout = user, password, timeout
        self.context = client_context(cert=cert, key=key, ca=ca)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ImapMailbox | None:
        """Build the mailbox from DISPATCH_IMAP_* (and the certificate of DISPATCH_SMTP_*); None when no host is set."""
        server = imap_server(config)
        if server is None:
            return None
        host, port, folder = server
        return cls(
            host,
            port,
            folder=folder,
            user=str(config.get("DISPATCH_IMAP_USER") or "").strip() or None,
            password=str(config.get("DISPATCH_IMAP_PASSWORD") or "") or None,
            cert=config.get("DISPATCH_SMTP_CERT") or None,
            key=config.get("DISPATCH_SMTP_KEY") or None,
            ca=config.get("DISPATCH_SMTP_CA") or None,
            timeout=float(config.get("DISPATCH_IMAP_TIMEOUT") or 20.0),
        )

    @classmethod
    def for_address(cls, config: Mapping[str, Any], address: str) -> ImapMailbox:
        """Build the mailbox of a community's own address: the operator's IMAP server (DISPATCH_IMAP_HOST/PORT/FOLDER),
        its certificate and key from DISPATCH_MSSANTE_CERTS_DIR, SASL EXTERNAL as `address`."""
        server = imap_server(config)
        certs_dir = str(config.get("DISPATCH_MSSANTE_CERTS_DIR") or "").strip()
        if server is None or not certs_dir:
            raise ValueError("a community's mailbox needs DISPATCH_IMAP_HOST and DISPATCH_MSSANTE_CERTS_DIR")
        cert, key = certificate_paths(certs_dir, address)
        host, port, folder = server
        return cls(
            host,
            port,
            folder=folder,
            user=address,
            cert=str(cert),
            key=str(key),
            ca=config.get("DISPATCH_SMTP_CA") or None,
            timeout=float(config.get("DISPATCH_IMAP_TIMEOUT") or 20.0),
        )

    @contextlib.contextmanager
    def open(self) -> Iterator[ImapSession]:
        """Connect, authenticate and select the folder for the time of a `with` block, then log out."""
        try:
            conn = imaplib.IMAP4_SSL(self.host, self.port, ssl_context=self.context, timeout=self.timeout)
        except (imaplib.IMAP4.error, OSError) as exc:
            raise MailboxError(classify(exc)) from exc
        try:
            try:
                if self.password:
                    conn.login(self.user or "", self.password)
                else:  # the certificate is the credential; an identity to act as only if one is named
                    conn.authenticate("EXTERNAL", lambda _challenge: (self.user or "").encode())
                kind, data = conn.select(f'"{folder_name(self.folder)}"')
            except (imaplib.IMAP4.error, OSError) as exc:
                raise MailboxError(classify(exc)) from exc
            if kind != "OK":
                raise MailboxError(f"folder {self.folder!r} cannot be opened: {_text(data)}")
            validity = conn.response("UIDVALIDITY")[1]
            yield ImapSession(conn, _text(validity) or "0")
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                conn.logout()


def imap_server(config: Mapping[str, Any]) -> tuple[str, int, str] | None:
    """Return the operator's IMAP server and folder (DISPATCH_IMAP_HOST, _PORT, _FOLDER); None when no host is set."""
    host = str(config.get("DISPATCH_IMAP_HOST") or "").strip()
    if not host:
        return None
    raw_port = config.get("DISPATCH_IMAP_PORT") or DEFAULT_PORT
    try:
        port = int(raw_port)
    except (TypeError, ValueError):
        raise ValueError(f"DISPATCH_IMAP_PORT must be an integer, not {raw_port!r}") from None
    folder = str(config.get("DISPATCH_IMAP_FOLDER") or DEFAULT_FOLDER).strip()
    if not folder or any(c in folder for c in '"\\\r\n'):
        raise ValueError(f"DISPATCH_IMAP_FOLDER is not a usable folder name: {folder!r}")
    return host, port, folder


def classify(exc: BaseException) -> str:
    """Describe an IMAP or network failure without anything of a mail."""
    tls = ssl_cause(exc)
    if tls is not None and not isinstance(tls, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return tls_detail(tls)
    if isinstance(exc, imaplib.IMAP4.error):
        text = str(exc)
        if "AUTHENTICATIONFAILED" in text or "certificate" in text.lower() or "LOGIN" in text.upper():
            return f"authentication refused: {text[:200]}"
        return f"imap error: {text[:200]}"
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "timeout"
    if isinstance(exc, OSError):
        return f"network error: {type(exc).__name__}: {exc}"[:200]
    return f"unexpected error: {type(exc).__name__}"


def folder_name(name: str) -> str:
    """Return a folder name in IMAP's modified UTF-7 (RFC 3501 §5.1.3): 'Accusés' → 'Accus&AOk-s'."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            encoded = base64.b64encode("".join(pending).encode("utf-16-be")).decode().rstrip("=").replace("/", ",")
            out.append(f"&{encoded}-")
            pending.clear()

    for char in name:
        if " " <= char <= "~":
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def _text(data: Any) -> str:
    items = data if isinstance(data, list) else [data]
    return " ".join(item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item) for item in items if item)[:200]
