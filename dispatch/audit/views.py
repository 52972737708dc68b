"""Nothing left here: `GET /requests/{id}/access` is served by `dispatch.requests.views` (audit keeps models and
service). This empty blueprint remains only until `create_app` stops registering it."""

from __future__ import annotations

from flask_smorest import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/api/v1", description="Traçabilité des accès aux données des patients")
