"""The per-physician daily rollup of offers behind the report's `by_physician`, kept in step with the offers."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from dispatch.db import db


class PhysicianDayStats(db.Model):
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
