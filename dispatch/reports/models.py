"""The daily rollups behind the report: offers per physician (`by_physician`) and requests per group of fields."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db import Model


class PhysicianDayStats(Model):
    """Offers made to one physician of requests opened on one local day of a community, and their answers.

    `day` is the request's `opened_at` as a date in the community's time zone. `accepted` and `refused`
    count offers whose last answer is an acceptance or a refusal: a refusal followed by an acceptance
    moves one from `refused` to `accepted`. Written in the transaction that changes the offers.
    """

    __tablename__ = "physician_day_stats"

    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), primary_key=True)
    physician_id: Mapped[int] = mapped_column(ForeignKey("physicians.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    offered: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[int] = mapped_column(default=0)
    refused: Mapped[int] = mapped_column(default=0)


class RequestDayStats(Model):
    """How many requests opened on one local day of a community stand in one group of the report's fields.

    The group: `state`, `source`, `motive`, `treating_status`, `synthesis_status` ('' when none yet) and
    `accepted_by_treating` (the treating GP accepted it). Every change of those fields moves the request from
    one row to another in the same transaction; a row may fall back to 0.
    """

    __tablename__ = "request_day_stats"

    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    state: Mapped[str] = mapped_column(String(20), primary_key=True)
    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    motive: Mapped[str] = mapped_column(String(20), primary_key=True)
    treating_status: Mapped[str] = mapped_column(String(10), primary_key=True)
    synthesis_status: Mapped[str] = mapped_column(String(20), primary_key=True)
    accepted_by_treating: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    n: Mapped[int] = mapped_column(default=0)
