"""The phone page's floating slot: "Je peux en prendre encore N jusqu'à HH:MM", declared or removed in one form."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import flash, redirect, request, url_for

from dispatch import policy, texts
from dispatch.communities.models import MAX_CAPACITY
from dispatch.errors import Problem
from dispatch.pages import bp
from dispatch.pages.common import user_zone
from dispatch.pages.guard import role_page, signed_in
from dispatch.policy import Action
from dispatch.requests import capacity
from dispatch.web import now


def next_at(hhmm: str, *, now: datetime, tz: str) -> datetime | None:
    """Return the next instant the community's clock shows `hhmm` (today, or tomorrow if passed), or None if unreadable."""
    try:
        at = time.fromisoformat(hhmm)
    except ValueError:
        return None
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    when = datetime.combine(local.date(), at, tzinfo=zone)
    if when <= local:
        when = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone)
    return when.astimezone(UTC)


def slot_label(slot: capacity.Capacity, tz: str) -> str | None:
    """Say in French where a floating slot stands: "Encore 2 patients jusqu'à 18:00", "Complet jusqu'à 18:00"."""
    if slot.until is None or slot.left is None:
        return None
    until = texts.hhmm(slot.until, tz)
    if slot.full:
        return f"Complet jusqu'à {until}"
    return f"Encore {slot.left} patient{'s' if slot.left > 1 else ''} jusqu'à {until}"


@bp.route("/m/capacite", methods=["POST"])
@role_page(Action.ACCEPT)
def capacity_form() -> Any:
    """Declare how many more requests I take until a time, or remove that limit."""
    physician = policy.acting_physician(signed_in())
    if request.form.get("remove") == "1":
        capacity.remove_capacity(physician=physician)
        flash("Limite retirée : vous recevez les demandes comme avant.", "ok")
        return redirect(url_for("pages.offers"))
    at = now()
    tz = user_zone(physician.user)
    raw = request.form.get("capacity", "").strip()
    until = next_at(request.form.get("until", "").strip(), now=at, tz=tz)
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_CAPACITY:
        flash(f"Indiquez un nombre de patients entre 1 et {MAX_CAPACITY}.", "error")
    elif until is None:
        flash("Indiquez l'heure de fin (HH:MM).", "error")
    else:
        try:
            slot = capacity.declare_capacity(physician=physician, capacity=int(raw), until=until, now=at)
        except Problem as exc:
            flash(
                " ".join(message for messages in (exc.errors or {}).values() for message in messages) or exc.detail or "", "error"
            )
        else:
            flash(f"C'est noté : {slot_label(slot, tz)}.", "ok")
    return redirect(url_for("pages.offers"))
