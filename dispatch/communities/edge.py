"""What the community endpoints of the API and the staff pages share: a community the user may manage, or 403/404."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dispatch import policy
from dispatch.communities.models import Community
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.policy import Action

if TYPE_CHECKING:
    from dispatch.auth.models import User


def managed_community(user: User, community_id: int) -> Community:
    """Return the community if the user is an admin or one of its coordinators; 403 or 404 otherwise."""
    community = db.session.get(Community, community_id)
    if community is None:
        raise Problem(404, "not_found", "Communauté introuvable.")
    policy.require(user, Action.MANAGE_COMMUNITY, community_id=community.id)
    return community
