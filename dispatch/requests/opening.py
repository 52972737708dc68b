"""Opening a request from validated input (RequestIn), shared by the JSON API and the operator console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dispatch.auth.models import User
from dispatch.communities import directory
from dispatch.communities import service as communities
from dispatch.communities.models import Community
from dispatch.db import db
from dispatch.requests import service
from dispatch.requests.models import Request


class Invalid(Exception):
    """The input is valid alone but not in this community (e.g. a secure address outside MSSanté); `errors` by field."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("invalid")
        self.errors = errors


@dataclass(frozen=True)
class Opened:
    """A request just opened, and what the operator must be told about it (e.g. a treating GP's changed address)."""

    request: Request
    warnings: tuple[dict[str, Any], ...] = ()


def find_existing(*, opened_by_id: int, key: str | None) -> Request | None:
    """Return the request this user already opened with this idempotency key, if any."""
    if key is None:
        return None
    return db.session.scalar(select(Request).where(Request.opened_by_id == opened_by_id, Request.idempotency_key == key))


def open_from_input(
    *,
    community: Community,
    args: dict[str, Any],
    opened_by: User,
    now: datetime,
    actor: service.Actor,
    idempotency_key: str | None = None,
) -> Opened:
    """Name the treating GP (member or directory entry) and open the request, once per idempotency key."""
    patient, treating_in = args["patient"], args["treating_physician"]
    declared = treating_in["status"] == "declared"
    treating = communities.find_treating(community_id=community.id, rpps=treating_in.get("rpps")) if declared else None
    directory_id = None
    mssante = treating_in.get("mssante")
    notes: tuple[tuple[str, dict[str, Any]], ...] = ()
    if declared and treating is None:
        try:
            outside = communities.record_outside_treating(
                community=community, rpps=treating_in.get("rpps"), name=treating_in.get("name"), mssante=mssante, now=now
            )
        except ValueError as exc:
            db.session.rollback()
            raise Invalid({"treating_physician.mssante": [str(exc)]}) from None
        directory_id, mssante = outside.entry.id, outside.entry.mssante
        # No address, or one the national directory gave long ago: the worker asks the directory after commit.
        directory.ask_directory(outside.entry, now=now)
        if outside.changed:  # recorded (who, when, before, after) and shown to the operator on the request's trail
            notes = (("treating_address_changed", {"before": outside.previous_mssante, "after": mssante}),)
    fields = {
        "source": args["source"],
        "motive": args["motive"],
        "description": args.get("description"),
        "patient_first_name": patient["first_name"],
        "patient_last_name": patient["last_name"],
        "patient_birth_date": patient.get("birth_date"),
        "patient_sex": patient.get("sex"),
        "patient_phone": patient.get("phone"),
        "patient_postcode": patient.get("postcode"),
        "patient_city": patient.get("city"),
        "treating_status": treating_in["status"],
        "treating_rpps": treating.rpps if treating else treating_in.get("rpps"),
        "treating_name": treating.user.name if treating else treating_in.get("name"),
        "treating_mssante": treating.mssante if treating else mssante,
    }
    try:
        request = service.open_request(
            community=community,
            fields=fields,
            treating=treating,
            directory_id=directory_id,
            opened_by=opened_by,
            now=now,
            actor=actor,
            idempotency_key=idempotency_key,
            notes=notes,
        )
    except IntegrityError:
        db.session.rollback()  # the same key raced us: answer the request the other call opened
        existing = find_existing(opened_by_id=opened_by.id, key=idempotency_key)
        if existing is None:
            raise
        return Opened(existing)
    # The notes, recorded on the trail, are also what the operator is warned of now.
    return Opened(request, tuple({"code": code, **data} for code, data in notes))
