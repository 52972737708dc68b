"""The server-rendered pages of operators, physicians and staff: a plain Flask blueprint."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pages", __name__)

from dispatch.pages import (  # noqa: E402,F401 -- register routes
    account,
    admin,
    app_shell,
    capacity_page,
    filters,
    guard,
    live,
    members,
    offer_link,
    operator,
    patients,
    physician,
    psc,
    request_page,
    requester,
    rights,
    roster,
    rules_page,
    second_factor,
    staff,
    treating,
)
