"""The outbox sender with recording ports: batched claims and pushes, leases, and per-recipient settling."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from dispatch.db import db
from dispatch.notify import outbox
from dispatch.notify.models import OutboxMessage
from dispatch.notify.ports import Outcome, PushResult
from dispatch.notify.service import deliver_pending
from dispatch.wiring import senders


def community_of(make: Any, physicians: int) -> tuple[Any, Any, list[Any]]:
    community = make.community()
    operator = make.member(community, "operator")
    members = [make.member(community, "physician") for _ in range(physicians)]
    for physician in members:
        make.device(physician)
    return community, operator, members


def statuses() -> list[str]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id)))


def test_a_community_goes_out_in_one_batch(make: Any, ports: Any) -> None:
    community, operator, members = community_of(make, 30)
    make.open(operator, community)

    assert make.deliver() == 30

    assert ports["push"].batches == [30]
    assert {m.tokens[0] for m in ports["push"].sent} == {d.token for p in members for d in p.devices}
    assert statuses() == ["sent"] * 30


def test_the_claim_is_bounded_and_rounds_follow_until_nothing_is_due(app: Any, make: Any, ports: Any, clock: Any) -> None:
    community, operator, _ = community_of(make, 25)
    make.open(operator, community)

    assert deliver_pending(now=clock.now(), senders=senders(app), limit=10) == 25

    assert ports["push"].batches == [10, 10, 5]
    assert statuses() == ["sent"] * 25


def test_a_claim_holds_its_rows_until_the_lease_ends(make: Any, clock: Any) -> None:
    community, operator, _ = community_of(make, 3)
    make.open(operator, community)

    first = outbox.claim_due(now=clock.now(), limit=2, lease_s=30)
    second = outbox.claim_due(now=clock.now(), limit=10, lease_s=30)
    assert [c.attempts for c in first + second] == [1, 1, 1]
    assert len({c.id for c in first + second}) == 3
    assert outbox.claim_due(now=clock.now(), limit=10, lease_s=30) == []

    clock.advance(seconds=29)
    assert outbox.claim_due(now=clock.now(), limit=10, lease_s=30) == []
    clock.advance(seconds=1)  # a sender died holding them: another takes over
    again = outbox.claim_due(now=clock.now(), limit=10, lease_s=30)
    assert sorted(c.id for c in again) == sorted(c.id for c in first + second)
    assert {c.attempts for c in again} == {2}


def test_rows_another_sender_holds_are_skipped_not_waited_for(make: Any, clock: Any) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("FOR UPDATE SKIP LOCKED is PostgreSQL's; SQLite has a single writer")
    community, operator, _ = community_of(make, 3)
    make.open(operator, community)
    ids = list(db.session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))
    with db.engine.connect() as other, other.begin():  # another sender, mid-claim on the first two rows
        other.execute(select(OutboxMessage.id).where(OutboxMessage.id.in_(ids[:2])).with_for_update())

        claims = outbox.claim_due(now=clock.now(), limit=10, lease_s=30)

    assert [c.id for c in claims] == ids[2:]


def test_one_recipient_failing_does_not_hold_the_others(make: Any, ports: Any, clock: Any) -> None:
    community, operator, members = community_of(make, 3)
    ports["push"].script = [PushResult(Outcome.TRANSIENT, retry_tokens=("x",), detail="UNAVAILABLE=1")]
    make.open(operator, community)

    make.deliver()

    assert statuses() == ["pending", "sent", "sent"]
    clock.advance(seconds=2)
    make.deliver()
    assert statuses() == ["sent"] * 3 and ports["push"].batches == [3, 1]


def test_an_adapter_bug_puts_the_batch_back_for_later(make: Any, ports: Any, clock: Any) -> None:
    community, operator, _ = community_of(make, 2)

    def broken(messages: list[Any]) -> list[Any]:
        raise RuntimeError("adapter bug")

    ports["push"].send_batch = broken
    make.open(operator, community)

    make.deliver()

    assert statuses() == ["pending", "pending"]
    rows = db.session.scalars(select(OutboxMessage)).all()
    assert {r.last_error for r in rows} == {"internal error while sending"}
    assert all(r.next_attempt_at > clock.now() for r in rows)


def test_sms_to_an_invalid_number_fails_without_calling_the_provider(make: Any, ports: Any) -> None:
    community = make.community()
    operator = make.member(community, "operator")
    physician = make.member(community, "physician")  # no device, and no usable phone
    physician.user.phone = "12"
    db.session.commit()
    opened = make.open(operator, community)

    make.deliver()

    assert statuses() == ["fallback", "failed"]
    assert ports["sms"].sent == []
    events = make.call("GET", f"/requests/{opened['id']}/events", operator).json
    assert "offer_sms_failed" in [e["type"] for e in events]


def _patient_sms(make: Any, clock: Any) -> tuple[Any, dict[str, Any], OutboxMessage]:
    community, operator, [physician] = community_of(make, 1)
    opened = make.open(operator, community)
    make.deliver()  # the offer's push
    assert make.accept(physician, opened["id"], minutes=30).status_code == 200
    row = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "patient_appointment")).one()
    return operator, opened, row


def test_an_sms_whose_sender_died_while_handing_it_over_is_never_sent_again(make: Any, ports: Any, clock: Any) -> None:
    """Issue 24 point 6: the claim's lease ran out on an SMS marked as being handed over: its fate is unknown."""
    operator, opened, row = _patient_sms(make, clock)
    row.status, row.provider_status, row.attempts = "sending", "submitting", 1
    row.locked_until = clock.now()
    db.session.commit()
    before = len(ports["sms"].sent)
    make.deliver()
    db.session.expire_all()
    row = db.session.get(OutboxMessage, row.id)
    assert (row.status, row.provider_status) == ("failed", "unknown") and "ambiguous" in row.last_error
    assert len(ports["sms"].sent) == before  # not handed over a second time
    events = make.call("GET", f"/requests/{opened['id']}/events", operator).json
    assert "patient_appointment_failed" in [e["type"] for e in events]


def test_an_sms_that_raised_after_being_handed_over_is_not_retried(make: Any, ports: Any, clock: Any) -> None:
    operator, _, row = _patient_sms(make, clock)

    class Exploding:
        sent: list[Any] = []

        def send(self, message: Any) -> Any:
            self.sent.append(message)
            raise RuntimeError("the adapter broke after the service took it")

    make.deliver(sms=Exploding())
    db.session.expire_all()
    row = db.session.get(OutboxMessage, row.id)
    assert len(Exploding.sent) == 1
    assert (row.status, row.provider_status) == ("failed", "unknown")
    clock.advance(minutes=10)
    make.deliver(sms=Exploding())
    assert len(Exploding.sent) == 1


def test_an_sms_answered_transiently_is_retried_without_the_mark(make: Any, ports: Any, clock: Any) -> None:
    _, _, row = _patient_sms(make, clock)
    from dispatch.notify.ports import DeliveryResult

    class Busy:
        def send(self, message: Any) -> Any:
            return DeliveryResult(Outcome.TRANSIENT, detail="503")

    make.deliver(sms=Busy())
    db.session.expire_all()
    row = db.session.get(OutboxMessage, row.id)
    assert (row.status, row.provider_status) == ("pending", None)  # the service said no: safe to try again
