"""The server-rendered pages of operators, physicians and staff: a plain Flask blueprint."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pages", __name__)

from dispatch.pages import admin, guard, members, operator, physician, staff  # noqa: E402,F401 -- register routes
