"""A community's rules per profession (windows and waves by distance): read by its members, set by its coordinators."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint
from marshmallow import fields, validate

from dispatch import policy
from dispatch.communities import rules
from dispatch.communities.edge import managed_community
from dispatch.communities.models import Community
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.policy import Action
from dispatch.professions import CODES
from dispatch.schemas import Integer, Schema
from dispatch.web import current_user, now

bp = Blueprint("rules", __name__, url_prefix="/api/v1", description="Règles par profession")

DAY_S = 86400


class WaveSchema(Schema):
    after_s = Integer(required=True, minimum=0, maximum=7 * DAY_S, metadata={"description": "Secondes après l'ouverture"})
    radius_km = fields.Float(
        required=True, validate=validate.Range(min=0, min_inclusive=False, max=500), metadata={"description": "Rayon (km)"}
    )


class RuleIn(Schema):
    exclusive_s = Integer(required=True, minimum=0, maximum=7 * DAY_S)
    response_s = Integer(required=True, minimum=60, maximum=7 * DAY_S)
    waves = fields.List(fields.Nested(WaveSchema), load_default=list, validate=validate.Length(max=10))

    @ma.validates_schema(skip_on_field_errors=True)
    def coherent(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data["exclusive_s"] >= data["response_s"]:
            raise ma.ValidationError(
                {"exclusive_s": ["La fenêtre réservée au professionnel habituel doit être plus courte que la fenêtre de réponse."]}
            )
        waves = data["waves"]
        for previous, wave in zip(waves, waves[1:], strict=False):
            if wave["after_s"] <= previous["after_s"] or wave["radius_km"] <= previous["radius_km"]:
                raise ma.ValidationError({"waves": ["Chaque vague s'ouvre après la précédente, sur un rayon plus grand."]})
        if any(wave["after_s"] >= data["response_s"] for wave in waves):
            raise ma.ValidationError({"waves": ["Une vague s'ouvre avant la fin de la fenêtre de réponse."]})


class RuleOut(Schema):
    profession = fields.String()
    exclusive_s = Integer()
    response_s = Integer()
    waves = fields.List(fields.Nested(WaveSchema))


def _community(community_id: int) -> Community:
    community = db.session.get(Community, community_id)
    policy.require(current_user(), Action.RULES, community_id=community.id if community else None)
    assert community is not None  # an unknown community is refused above (404)
    return community


@bp.route("/communities/<int:community_id>/rules", methods=["GET"])
@bp.response(200, RuleOut(many=True))
def list_rules(community_id: int) -> list[dict[str, Any]]:
    """List the community's rules for each profession (any member of the community)."""
    return [rule.as_data() for rule in rules.rules_of(_community(community_id))]


@bp.route("/communities/<int:community_id>/rules/<profession>", methods=["PUT"])
@bp.arguments(RuleIn)
@bp.response(200, RuleOut)
def put_rule(args: dict[str, Any], community_id: int, profession: str) -> dict[str, Any]:
    """Set one profession's rules for the requests opened afterwards (coordinators); running requests keep theirs."""
    community = managed_community(current_user(), community_id)
    if profession not in CODES:
        raise Problem(404, "not_found", "Profession inconnue (10, 21, 40, 50, 60 ou 70).")
    rule = rules.set_rule(community=community, profession=profession, by=current_user(), now=now(), **args)
    return rule.as_data()
