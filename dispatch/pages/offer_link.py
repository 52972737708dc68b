"""One tap from an offer's SMS: its link opens that request on the phone, signed in for it alone, without a password.

The address is opened by GET and spent by a POST the page makes by itself (app.js): a messaging app that fetches the
address to preview it spends nothing. Without scripts, one button does the same.
"""

from __future__ import annotations

from typing import Any

from flask import current_app, g, redirect, render_template, request, url_for

from dispatch.auth import service as auth
from dispatch.pages import bp
from dispatch.pages.guard import limited_to, open_page_session
from dispatch.requests import links
from dispatch.web import client_label, now

# What an unusable link's page says, by reason; the status says the same to a script.
UNUSABLE = {
    "unknown": ("Ce lien n'est pas valable : vérifiez qu'il a été ouvert en entier.", 404),
    "used": ("Ce lien a déjà servi : il n'ouvre la demande qu'une fois.", 410),
    "expired": ("Le délai de cette demande est passé : ce lien ne l'ouvre plus.", 410),
    "inactive": ("Ce compte a été désactivé. Adressez-vous à la coordination de votre CPTS.", 403),
}


@bp.route("/l/<secret>", methods=["GET", "POST"])
def offer_link(secret: str) -> Any:
    """Open the request an offer's SMS names, for the physician it was sent to, once, until the request's deadline."""
    at = now()
    user = g.get("user")
    try:
        link, holder = links.usable_link(secret=secret[:100], now=at)
        if request.method == "GET":
            return render_template("pages/offer_link.html", request_id=link.request_id)
        opened = links.sign_in_by_link(
            secret=secret[:100], now=at, client=client_label(), ttl_s=int(current_app.config["DISPATCH_TOKEN_TTL_S"])
        )
    except links.LinkUnusable as exc:
        target = url_for("pages.offer", request_id=exc.request_id) if exc.request_id else None
        detail, status = UNUSABLE[exc.reason]
        return render_template("pages/offer_link.html", unusable=detail, target=target), status
    if user is not None and user.id == holder.id and limited_to() is None:
        auth.sign_out(token=opened.session.token, now=at)  # signed in on this phone already: keep that session
    else:
        open_page_session(opened.session, None, only=opened.request_id)
    return redirect(url_for("pages.offer", request_id=opened.request_id))
