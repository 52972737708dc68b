"""The health check: the service answers and its database too."""

from __future__ import annotations

from flask_smorest import Blueprint
from marshmallow import fields
from sqlalchemy import text

from dispatch.db import db
from dispatch.errors import Problem
from dispatch.schemas import Schema

bp = Blueprint("health", __name__, url_prefix="/api/v1", description="État du service")


class HealthOut(Schema):
    status = fields.String()


@bp.route("/healthz", methods=["GET"])
@bp.response(200, HealthOut)
@bp.alt_response(503, description="La base de données ne répond pas")
def healthz() -> dict[str, str]:
    """Say whether the service and its database answer."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        raise Problem(503, "unavailable", "La base de données ne répond pas.") from None
    return {"status": "ok"}
