"""The national address base (BAN) as loaded by `dispatch geo load`: its addresses, and the centroids of its streets
and communes computed once at load, so that a lookup is a few indexed reads and never an aggregate."""

from __future__ import annotations

from sqlalchemy import Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db import Model


class BanAddress(Model):
    """One numbered address of the BAN (a line of its CSV), its names folded to keys (dispatch.geo.normal.key)."""

    __tablename__ = "ban_addresses"
    __table_args__ = (Index("ix_ban_addresses_street_number", "code_insee", "street_key", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The département the line belongs to (from its INSEE code: "94", "2A", "974"): a reload replaces its rows.
    departement: Mapped[str] = mapped_column(String(3), index=True)
    code_insee: Mapped[str] = mapped_column(String(5))
    code_postal: Mapped[str] = mapped_column(String(5))
    street_key: Mapped[str] = mapped_column(String(200))
    number: Mapped[int | None]
    rep: Mapped[str] = mapped_column(String(20), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)


class BanStreet(Model):
    """A street of a commune, at the centroid of its numbers."""

    __tablename__ = "ban_streets"
    __table_args__ = (Index("ix_ban_streets_street", "code_insee", "street_key", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    departement: Mapped[str] = mapped_column(String(3), index=True)
    code_insee: Mapped[str] = mapped_column(String(5))
    street_key: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)


class BanCommune(Model):
    """A commune within one of its postcodes, at the centroid of its addresses, with the name it goes by."""

    __tablename__ = "ban_communes"
    __table_args__ = (
        Index("ix_ban_communes_postcode", "code_postal", "name_key"),
        Index("ix_ban_communes_name", "name_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    departement: Mapped[str] = mapped_column(String(3), index=True)
    code_insee: Mapped[str] = mapped_column(String(5))
    code_postal: Mapped[str] = mapped_column(String(5))
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
