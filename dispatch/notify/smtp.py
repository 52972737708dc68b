"""Secure mail adapter sending MSSanté messages over SMTP with TLS client certificates."""

from __future__ import annotations

import contextlib
import logging
import os
import smtplib
import ssl
import threading
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any, Literal

from dispatch.notify.mailboxes import MSSANTE_FROM, certificate_paths
from dispatch.notify.ports import DeliveryResult, Outcome

logger = logging.getLogger(__name__)

Security = Literal["tls", "starttls", "none"]
SECURITY_MODES: tuple[str, ...] = ("tls", "starttls", "none")
DEFAULT_PORTS: dict[str, int] = {"tls": 465, "starttls": 587, "none": 25}
# TLS failures that look like the connection dropping rather than a refusal: try again.
_NETWORK_SSL_ERRORS = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLWantReadError, ssl.SSLWantWriteError, ssl.SSLSyscallError)


class MissingIdentityError(Exception):
    """A message's From is a community's mailbox whose certificate and key are not where they must be."""


class ClosedAfterHandshakeError(Exception):
    """The server hung up right after the TLS handshake: how it refuses a client certificate."""


def _closed_after_handshake(exc: smtplib.SMTPServerDisconnected) -> Exception:
    """Explain a disconnect that came before any SMTP reply on a fresh TLS session."""
    if isinstance(exc.__context__, TimeoutError):
        return exc  # a slow server, not a refusal
    return ClosedAfterHandshakeError(str(exc))


class SmtpMailer:
    """MailPort adapter: one SMTP session per message, failures classified into outcomes."""

    def __init__(
        self,
        host: str,
        port: int,
        security: Security,
        cert: str | None = None,
        key: str | None = None,
        ca: str | None = None,
        timeout: float = 20.0,
        local_hostname: str | None = None,
        *,
        user: str | None = None,
        password: str | None = None,
        sender: str | None = None,
        certs_dir: str | None = None,
    ) -> None:
        if security not in SECURITY_MODES:
            raise ValueError(f"SMTP security must be one of {SECURITY_MODES}, not {security!r}")
        if key and not cert:
            raise ValueError("an SMTP client key needs its certificate")
        if password and not user:
            raise ValueError("an SMTP password needs its user")
        self.host = host
        self.port = port
        self.security = security
        self.timeout = timeout
        self.local_hostname = local_hostname
        self.user, self.password = user, password
        self.ca = ca
        self.context = client_context(cert=cert, key=key, ca=ca)
        # The installation's own mailbox (`sender`) presents `cert`; any other From is a community's mailbox, which
        # presents <certs_dir>/<address>.crt and .key: a message always leaves under the certificate of its From.
        self.sender = (sender or "").strip().lower()
        self.certs_dir = certs_dir or None
        self._contexts: dict[str, tuple[tuple[float, float], ssl.SSLContext]] = {}
        self._contexts_lock = threading.Lock()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpMailer:
        """Build a mailer from DISPATCH_SMTP_* configuration keys."""
        host = config.get("DISPATCH_SMTP_HOST")
        if not host:
            raise ValueError("DISPATCH_SMTP_HOST is required to send secure mail over SMTP")
        security = str(config.get("DISPATCH_SMTP_SECURITY") or "tls").lower()
        if security not in SECURITY_MODES:
            raise ValueError(f"DISPATCH_SMTP_SECURITY must be one of {SECURITY_MODES}, not {security!r}")
        port = config.get("DISPATCH_SMTP_PORT") or DEFAULT_PORTS[security]
        try:
            port = int(port)
        except (TypeError, ValueError):
            raise ValueError(f"DISPATCH_SMTP_PORT must be an integer, not {port!r}") from None
        return cls(
            host=str(host),
            port=port,
            security=security,  # type: ignore[arg-type]
            cert=config.get("DISPATCH_SMTP_CERT") or None,
            key=config.get("DISPATCH_SMTP_KEY") or None,
            ca=config.get("DISPATCH_SMTP_CA") or None,
            timeout=float(config.get("DISPATCH_SMTP_TIMEOUT") or 20.0),
            local_hostname=config.get("DISPATCH_SMTP_LOCAL_HOSTNAME") or None,
            sender=str(config.get("DISPATCH_SMTP_FROM") or ""),
            certs_dir=str(config.get("DISPATCH_MSSANTE_CERTS_DIR") or "").strip() or None,
        )

    @classmethod
    def relay_from_config(cls, config: Mapping[str, Any]) -> SmtpMailer | None:
        """Build the ordinary relay (invitations, password links) from DISPATCH_MAIL_SMTP_*; None when no host is set."""
        host = str(config.get("DISPATCH_MAIL_SMTP_HOST") or "").strip()
        if not host:
            return None
        security = str(config.get("DISPATCH_MAIL_SMTP_SECURITY") or "starttls").strip().lower()
        if security not in SECURITY_MODES:
            raise ValueError(f"DISPATCH_MAIL_SMTP_SECURITY must be one of {SECURITY_MODES}, not {security!r}")
        raw_port = config.get("DISPATCH_MAIL_SMTP_PORT") or DEFAULT_PORTS[security]
        try:
            port = int(raw_port)
        except (TypeError, ValueError):
            raise ValueError(f"DISPATCH_MAIL_SMTP_PORT must be an integer, not {raw_port!r}") from None
        return cls(
            host=host,
            port=port,
            security=security,  # type: ignore[arg-type]
            ca=config.get("DISPATCH_SMTP_CA") or None,
            timeout=float(config.get("DISPATCH_SMTP_TIMEOUT") or 20.0),
            local_hostname=config.get("DISPATCH_SMTP_LOCAL_HOSTNAME") or None,
            user=str(config.get("DISPATCH_MAIL_SMTP_USER") or "").strip() or None,
            password=str(config.get("DISPATCH_MAIL_SMTP_PASSWORD") or "") or None,
        )

    def context_for(self, message: EmailMessage) -> ssl.SSLContext:
        """Return the TLS context presenting the certificate of the message's From (see __init__)."""
        address = parseaddr(str(message.get("From") or ""))[1].strip().lower()
        if not address or address == self.sender or not self.sender:
            return self.context
        if not self.certs_dir:
            raise MissingIdentityError(f"no certificate for {address}: DISPATCH_MSSANTE_CERTS_DIR is not set")
        if not MSSANTE_FROM.fullmatch(address):
            raise MissingIdentityError("the From is not a mailbox address")
        cert, key = certificate_paths(self.certs_dir, address)
        try:
            stamp = (os.stat(cert).st_mtime, os.stat(key).st_mtime)
        except OSError:
            raise MissingIdentityError(f"no certificate for {address} in DISPATCH_MSSANTE_CERTS_DIR") from None
        with self._contexts_lock:  # built once per certificate, again after it is replaced (a renewal)
            known = self._contexts.get(address)
            if known is None or known[0] != stamp:
                known = (stamp, client_context(cert=str(cert), key=str(key), ca=self.ca))
                self._contexts[address] = known
            return known[1]

    def send(self, message: EmailMessage) -> DeliveryResult:
        """Send one secure message (MSSanté) already built."""
        message_id = message.get("Message-ID")
        provider_id = str(message_id) if message_id else None
        try:
            refused = self._deliver(message)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a result
            outcome, detail = classify(exc)
            logger.info("smtp send %s: %s (%s)", provider_id, outcome.value, detail)
            return DeliveryResult(outcome=outcome, provider_id=provider_id, detail=detail)
        if refused:
            # Some recipients took it, others did not: the message is out, never resend it.
            codes = ", ".join(f"{code}" for code, _ in refused.values())
            detail = f"accepted with {len(refused)} recipient(s) refused: {codes}"
            logger.info("smtp send %s: sent (%s)", provider_id, detail)
            return DeliveryResult(outcome=Outcome.SENT, provider_id=provider_id, detail=detail, extra={"refused": codes})
        logger.info("smtp send %s: sent", provider_id)
        return DeliveryResult(outcome=Outcome.SENT, provider_id=provider_id)

    def _deliver(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        """Open a session, send the message and close; return the refused recipients."""
        context = self.context_for(message)
        smtp: smtplib.SMTP
        if self.security == "tls":
            try:
                smtp = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname, context=context
                )
            except smtplib.SMTPServerDisconnected as exc:  # handshake done, no greeting
                raise _closed_after_handshake(exc) from exc
        else:
            smtp = smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout)
        try:
            if self.security == "starttls":
                smtp.ehlo()
                smtp.starttls(context=context)
                try:
                    smtp.ehlo()
                except smtplib.SMTPServerDisconnected as exc:
                    raise _closed_after_handshake(exc) from exc
            smtp.ehlo_or_helo_if_needed()
            if self.user and self.password:
                smtp.login(self.user, self.password)
            mail_options, rcpt_options = dsn_options(message) if smtp.has_extn("dsn") else ((), ())
            refused = smtp.send_message(message, mail_options=mail_options, rcpt_options=rcpt_options)
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()  # the message is accepted; a failed QUIT changes nothing
            return dict(refused)
        finally:
            smtp.close()


def dsn_options(message: EmailMessage) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return the MAIL and RCPT parameters asking a DSN-capable server for delivery reports (RFC 3461).

    A report on success as well as on failure (the receipts poller reads both); only the headers returned, never
    the message: a bounce must not carry the synthesis back; the envelope id names the message even when a report
    returns no headers.
    """
    ident = str(message.get("Message-ID") or "").strip()
    envid = "".join(c if "!" <= c <= "~" and c not in "+=" else f"+{ord(c):02X}" for c in ident)
    mail = ("RET=HDRS", f"ENVID={envid}") if envid and len(envid) <= 100 else ("RET=HDRS",)
    return mail, ("NOTIFY=SUCCESS,FAILURE",)


def client_context(*, cert: str | None, key: str | None, ca: str | None) -> ssl.SSLContext:
    """Build the TLS context of SMTP and IMAP: TLS 1.2 at least, server verified, our certificate presented."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    if cert:
        context.load_cert_chain(cert, key)
    return context


def ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    """Return the TLS error behind an exception, following its cause and context."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        current = current.__cause__ or current.__context__
    return None


def tls_detail(error: ssl.SSLError) -> str:
    """Describe a TLS failure without anything from the message."""
    reason = (getattr(error, "reason", None) or "").upper()
    text = getattr(error, "verify_message", None) or reason or str(error)
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"server certificate rejected: {text}"
    if "CERTIFICATE" in reason or "UNKNOWN_CA" in reason or "ACCESS_DENIED" in reason:
        return f"certificate refused: {text}"
    return f"tls failure: {text}"


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}"[:200]


def classify(exc: BaseException) -> tuple[Outcome, str]:
    """Return the outcome and a technical detail for an SMTP or network failure."""
    tls = ssl_cause(exc)
    if tls is not None and not isinstance(tls, _NETWORK_SSL_ERRORS):
        return Outcome.PERMANENT, tls_detail(tls)
    if isinstance(exc, MissingIdentityError):
        return Outcome.PERMANENT, f"sender identity: {exc}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return Outcome.PERMANENT, f"relay refused our credentials: {_reply(exc.smtp_code, exc.smtp_error)}"
    if isinstance(exc, ClosedAfterHandshakeError):
        return Outcome.PERMANENT, f"certificate refused: closed after the TLS handshake ({exc})"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        replies = "; ".join(_reply(code, text) for code, text in exc.recipients.values())
        outcome = Outcome.TRANSIENT if codes and all(400 <= c < 500 for c in codes) else (Outcome.PERMANENT)
        return outcome, f"recipient refused: {replies}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return Outcome.PERMANENT, f"not supported by the server: {exc}"
    if isinstance(exc, smtplib.SMTPResponseException):
        kind = {smtplib.SMTPSenderRefused: "sender refused", smtplib.SMTPDataError: "data refused"}.get(type(exc), "server replied")
        outcome = Outcome.TRANSIENT if 400 <= exc.smtp_code < 500 else Outcome.PERMANENT
        if exc.smtp_code < 400:  # an unexpected reply: the server is confused, not refusing
            outcome = Outcome.TRANSIENT
        return outcome, f"{kind}: {_reply(exc.smtp_code, exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return Outcome.TRANSIENT, f"disconnected: {exc}"
    if isinstance(exc, TimeoutError):
        return Outcome.TRANSIENT, "timeout"
    if isinstance(exc, OSError):
        return Outcome.TRANSIENT, f"network error: {type(exc).__name__}: {exc}"
    if isinstance(exc, smtplib.SMTPException):
        return Outcome.TRANSIENT, f"smtp error: {type(exc).__name__}: {exc}"
    return Outcome.PERMANENT, f"unexpected error: {type(exc).__name__}"
