"""Inbox adapters of the embedded default: keep what would be sent, to show it in a page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage

from dispatch.db import db
from dispatch.notify.models import InboxMessage
from dispatch.notify.ports import DeliveryResult, Outcome, PushMessage, PushResult, SmsMessage


class _Inbox:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock

    def _keep(self, **fields: object) -> int:
        row = InboxMessage(at=self.clock(), **fields)
        db.session.add(row)
        db.session.flush()
        return row.id


class InboxPush(_Inbox):
    """Keeps each push, one row per device."""

    def send(self, message: PushMessage) -> PushResult:
        """Keep the push for every token."""
        for token in message.tokens:
            self._keep(
                channel="push",
                recipient=token,
                title=message.title,
                body=message.body,
                data={**message.data, "collapse_key": message.collapse_key},
            )
        return PushResult(outcome=Outcome.SENT, sent_tokens=message.tokens)

    def send_batch(self, messages: list[PushMessage]) -> list[PushResult]:
        """Keep every push of the batch."""
        return [self.send(message) for message in messages]


class InboxSms(_Inbox):
    """Keeps each SMS."""

    def send(self, message: SmsMessage) -> DeliveryResult:
        """Keep the SMS."""
        row_id = self._keep(channel="sms", recipient=message.to, title=None, body=message.body, data={})
        return DeliveryResult(outcome=Outcome.SENT, provider_id=f"inbox-{row_id}", extra={"status": "delivered"})


class InboxMail(_Inbox):
    """Keeps each secure message, with the names of its attachments."""

    def send(self, message: EmailMessage) -> DeliveryResult:
        """Keep the message's headers, text and attachment names."""
        text = message.get_body(preferencelist=("plain",))
        attachments = [part.get_filename() or "" for part in message.iter_attachments()]
        self._keep(
            channel="mail",
            recipient=str(message["To"]),
            title=str(message["Subject"]),
            body=text.get_content() if text is not None else "",
            data={"attachments": attachments, "message_id": str(message["Message-ID"])},
        )
        return DeliveryResult(outcome=Outcome.SENT, provider_id=str(message["Message-ID"]))


class Recorder:
    """Recording fake for tests: keeps every message in memory, answers as scripted."""

    def __init__(self) -> None:
        self.sent: list[object] = []
        self.script: list[object] = []  # results to return before the default
        self.batches: list[int] = []  # size of each send_batch call

    def send(self, message: object) -> object:
        """Record the message and return the next scripted result, or success."""
        self.sent.append(message)
        if self.script:
            return self.script.pop(0)
        if isinstance(message, PushMessage):
            return PushResult(outcome=Outcome.SENT, sent_tokens=message.tokens)
        return DeliveryResult(outcome=Outcome.SENT, provider_id=f"fake-{len(self.sent)}")

    def send_batch(self, messages: list[PushMessage]) -> list[object]:
        """Record each push of a batch as if sent alone, scripted results applying in order."""
        self.batches.append(len(messages))
        return [self.send(message) for message in messages]
