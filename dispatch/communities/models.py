"""Communities (CPTS), their physicians and devices, the directory of outside treating GPs, and roster imports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.auth.models import User
from dispatch.db import Model, UTCDateTime
from dispatch.professions import CODES, PHYSICIAN

SMS_DAILY_BUDGET = 500
RETENTION_DAYS, RETENTION_RANGE = 365, (30, 3650)
TRAIL_DAYS, TRAIL_MIN = 1095, 180
MAX_CAPACITY = 20  # a floating slot's most requests (migration 0029 writes the same bound)
KINDS = ("titulaire", "remplacant", "adjoint", "assistant", "interne", "cami")


class Community(Model):
    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Paris")
    # Where its national-format phone numbers belong ("0690 ...", "41 23 45"): FR or an overseas region.
    region: Mapped[str] = mapped_column(String(2), default="FR", server_default="FR")
    exclusive_window_s: Mapped[int] = mapped_column(default=3600)
    response_window_s: Mapped[int] = mapped_column(default=7200)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Whether a treating GP's secure address may be outside the MSSanté space (a domain ending in mssante.fr).
    allow_non_mssante: Mapped[bool] = mapped_column(default=False, server_default=false())
    # SMS the sender lets go for the community in one local day (offers, patients, invitations, resets); past it
    # they fail as "over_budget" and the admin is told. Set by the admin only.
    sms_daily_budget: Mapped[int] = mapped_column(default=SMS_DAILY_BUDGET, server_default=str(SMS_DAILY_BUDGET))
    # Whether its operators need a second factor (TOTP) to sign in, as the admin and coordinators do in production.
    totp_operators: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Its own identity (dispatch.communities.identity), set by the admin; None: the installation's setting.
    custodian_id: Mapped[str | None] = mapped_column(String(15))  # IdNatStruct: the CDA's custodian, the XDM's institution
    mssante_from: Mapped[str | None] = mapped_column(String(254))  # MSSanté application mailbox: From, certificate, receipts
    sms_sender: Mapped[str | None] = mapped_column(String(16))  # alphanumeric sender (3 to 11) or a number
    # How long it keeps health data (dispatch.privacy.retention), chosen by the CPTS, the controller: the patient's
    # identity, phone, description and synthesis that many days after a request closed; the access trail and the
    # messages' addresses and texts that many days after they were written.
    retention_days: Mapped[int] = mapped_column(default=RETENTION_DAYS, server_default=str(RETENTION_DAYS))
    trail_days: Mapped[int] = mapped_column(default=TRAIL_DAYS, server_default=str(TRAIL_DAYS))
    # The hosts of the teleconsultation tools its physicians may link to (a leading dot matches subdomains), set by
    # its coordinators; None or empty: no teleconsultation link is accepted. The product hosts no video.
    teleconsultation_hosts: Mapped[list[str] | None] = mapped_column(JSON)


PROFESSION_CHECK = "profession IN ({})".format(", ".join(f"'{code}'" for code in CODES))


class Physician(Model):
    """A professional of the community who takes requests: a physician (profession 10), a nurse, a physiotherapist...

    The table kept its name and every path that reads it (offers, acceptance, the treating GP, the reports) keeps
    working: a professional is a physician with another `profession`. Their accounts keep the stored role
    `physician`, the role of those who get offers; answers name it `professional` for other professions.
    """

    __tablename__ = "physicians"
    __table_args__ = (
        CheckConstraint(PROFESSION_CHECK, name="profession"),
        CheckConstraint(f"capacity IS NULL OR (capacity >= 1 AND capacity <= {MAX_CAPACITY})", name="capacity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    rpps: Mapped[str] = mapped_column(String(11), unique=True)
    # The national code of the profession (dispatch.professions): offers reach only a request's own profession.
    profession: Mapped[str] = mapped_column(String(2), default=PHYSICIAN, server_default=PHYSICIAN)
    kind: Mapped[str] = mapped_column(String(20))
    mssante: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(String(300))
    # The practice's phone (E.164), given to the patient in the appointment's SMS: whom to tell when they cannot come.
    practice_phone: Mapped[str | None] = mapped_column(String(20))
    # Where the practice is (WGS 84 degrees): given outright in the member's body for now (the address geocoded
    # later); the distance to the patient decides which wave of a request reaches them.
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    available: Mapped[bool] = mapped_column(default=True)
    available_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A floating slot: "I can take `capacity` more until `capacity_until`", declared at `capacity_from` (the
    # acceptances since count against it). All None: no capacity. See dispatch.requests.capacity.
    capacity: Mapped[int | None]
    capacity_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    capacity_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined", back_populates="physician")
    devices: Mapped[list[Device]] = relationship(back_populates="physician", lazy="select")

    def is_available(self, now: datetime) -> bool:
        """Say whether the physician takes requests at `now`."""
        if not self.user.active:
            return False
        if self.available_until is not None and now >= self.available_until:
            # The switch was set until a time that has passed: it flipped back.
            return not self.available
        return self.available


class Requester(Model):
    """Who opens requests for a patient in front of them without taking any: a nurse, a pharmacist (a profession and
    an RPPS), or an establishment's staff (an EHPAD: its FINESS). Their account has the role `requester`."""

    __tablename__ = "requesters"
    __table_args__ = (
        CheckConstraint(f"profession IS NULL OR {PROFESSION_CHECK}", name="profession"),
        CheckConstraint("rpps IS NOT NULL OR finess IS NOT NULL", name="identified"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    profession: Mapped[str | None] = mapped_column(String(2))  # TRE_G15 code (60 nurse, 21 pharmacist...)
    rpps: Mapped[str | None] = mapped_column(String(11), unique=True)
    finess: Mapped[str | None] = mapped_column(String(9))  # the establishment (several of its staff share it)

    user: Mapped[User] = relationship(lazy="joined")


class ProfessionRule(Model):
    """A community's rules for one profession's requests, copied onto each request when it opens.

    Absent: the defaults (dispatch.professions.DEFAULT_RULES; for physicians, the community's own windows).
    `waves`: [{"after_s", "radius_km"}], by increasing after_s and radius.
    """

    __tablename__ = "profession_rules"
    __table_args__ = (UniqueConstraint("community_id", "profession"), CheckConstraint(PROFESSION_CHECK, name="profession"))

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    profession: Mapped[str] = mapped_column(String(2))
    exclusive_s: Mapped[int]
    response_s: Mapped[int]
    waves: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Device(Model):
    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    physician_id: Mapped[int] = mapped_column(ForeignKey("physicians.id"), index=True)
    platform: Mapped[str] = mapped_column(String(10))
    token: Mapped[str] = mapped_column(String(4096))
    token_key: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the token
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a push last reached it

    physician: Mapped[Physician] = relationship(back_populates="devices")


class DirectoryEntry(Model):
    """A treating GP named on a request who has no account on the platform, as one community knows them."""

    __tablename__ = "directory_entries"
    __table_args__ = (Index("ix_directory_entries_community_rpps", "community_id", "rpps"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Each community keeps its own: another one can never redirect this community's secure mail.
    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id"))
    rpps: Mapped[str | None] = mapped_column(String(11))
    name: Mapped[str | None] = mapped_column(String(200))
    mssante: Mapped[str | None] = mapped_column(String(254))
    # Where the address came from: "operator" (typed on a request) or "annuaire" (the national directory, by RPPS);
    # and, from the directory, the kind of mailbox (PER personal, CAB practice, ORG organisational).
    mssante_source: Mapped[str | None] = mapped_column(String(10))
    mssante_type: Mapped[str | None] = mapped_column(String(3))
    # The national directory asked by RPPS: pending, found, not_found or failed; and when it last answered.
    lookup_status: Mapped[str | None] = mapped_column(String(10))
    looked_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MemberImport(Model):
    """What a roster import did (members added and invited, or the French report of its faulty lines), shown after
    the redirect that follows the upload, so that reloading the page never posts the file again."""

    __tablename__ = "member_imports"
    __table_args__ = (Index("ix_member_imports_community_created", "community_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    filename: Mapped[str | None] = mapped_column(String(200))
    # {"errors": [French lines], "members": [{"name", "login", "role", "channel"}]}
    result: Mapped[dict[str, Any]] = mapped_column(JSON)
