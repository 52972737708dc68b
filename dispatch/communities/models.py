"""Communities (CPTS), their physicians and devices, and the directory of outside treating GPs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dispatch.auth.models import User
from dispatch.db import Model, UTCDateTime

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


class Physician(Model):
    __tablename__ = "physicians"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    rpps: Mapped[str] = mapped_column(String(11), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    mssante: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(String(300))
    available: Mapped[bool] = mapped_column(default=True)
    available_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
