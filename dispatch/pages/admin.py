"""The administrator's page: every community, with links to its dashboard and members, and creating one."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for

from dispatch.communities import service as communities
from dispatch.communities.schemas import CommunityIn
from dispatch.notify import budget
from dispatch.pages import bp
from dispatch.pages.common import LABELS, nested_form, user_communities, validate
from dispatch.pages.guard import role_page, signed_in
from dispatch.policy import Action
from dispatch.web import now


def _page(*, values: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None, status: int = 200) -> Any:
    user = signed_in()
    listed = user_communities(user)
    return render_template(
        "pages/communities.html",
        communities=listed,
        spent=budget.spent_today([(c.id, c.timezone) for c in listed], now=now()),
        labels=LABELS,
        values=values or {},
        errors=errors or {},
    ), status


@bp.route("/admin/communautes")
@role_page(Action.CREATE_COMMUNITY)
def communities_page() -> Any:
    """List every community."""
    return _page()


@bp.route("/admin/communautes", methods=["POST"])
@role_page(Action.CREATE_COMMUNITY)
def community_create() -> Any:
    """Create a community with its windows, validated like the API."""
    data = nested_form(ints=("exclusive_window_s", "response_window_s"))
    shown = dict(data)
    for key in ("exclusive_window_s", "response_window_s"):
        if isinstance(data.get(key), int):
            data[key] *= 60  # the form asks for minutes
    args, errors = validate(CommunityIn(), data)
    if args is None:
        return _page(values=shown, errors=errors, status=422)
    try:
        community = communities.create_community(now=now(), **args)
    except communities.Conflict as exc:
        return _page(values=shown, errors={"name": [exc.detail]}, status=409)
    flash(f"Communauté «\u00a0{community.name}\u00a0» créée.", "ok")
    return redirect(url_for("pages.communities_page"))
