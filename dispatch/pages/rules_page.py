"""The page that publishes a community's rules per profession to its members, in French."""

from __future__ import annotations

from typing import Any

from flask import render_template

from dispatch import professions, texts
from dispatch.communities import rules
from dispatch.pages import bp
from dispatch.pages.common import pick_community
from dispatch.pages.guard import role_page, signed_in
from dispatch.policy import Action


@bp.route("/regles")
@role_page(Action.RULES)
def rules_page() -> Any:
    """Show the community's rules for each profession: who gets a request first, then how far, and for how long."""
    community = pick_community(signed_in(Action.RULES), Action.RULES)
    shown = [
        {
            "profession": rule.profession,
            "name": professions.PROFESSIONS[rule.profession],
            "lines": texts.rule_lines(
                profession=rule.profession,
                exclusive_s=rule.exclusive_s,
                response_s=rule.response_s,
                waves=[dict(wave) for wave in rule.waves],
            ),
        }
        for rule in rules.rules_of(community)
    ]
    return render_template("pages/rules.html", community=community, rules=shown)
