"""The dev inbox page of the embedded default: what each phone, patient and mailbox received."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from dispatch import texts
from dispatch.communities.models import Community, Device, Physician
from dispatch.db import db
from dispatch.notify.models import InboxMessage

bp = Blueprint("dev", __name__, url_prefix="/dev")


DEFAULT_ZONE = "Europe/Paris"


@bp.route("/inbox")
def inbox() -> str:
    """Show the last messages the inbox backends kept, newest first, at the local time (registered only if asked)."""
    zone = db.session.scalar(select(Community.timezone).order_by(Community.id).limit(1)) or DEFAULT_ZONE
    rows = list(db.session.scalars(select(InboxMessage).order_by(InboxMessage.id.desc()).limit(300)))
    owners = dict(db.session.execute(select(Device.token, Physician.id).join(Physician, Physician.id == Device.physician_id)).all())
    names = {p.id: p.user.name for p in db.session.scalars(select(Physician))}
    phones = {p.user.phone: p.user.name for p in db.session.scalars(select(Physician)) if p.user.phone}
    messages = []
    for row in rows:
        if row.channel == "push":
            who = names.get(owners.get(row.recipient, -1), "appareil supprimé")
        elif row.channel == "sms":
            who = phones.get(row.recipient, "patient ou opérateur")
        else:
            who = "messagerie sécurisée"
        at = texts.local(row.at, zone).strftime("%d/%m/%Y %H:%M:%S")
        messages.append({"row": row, "who": who, "at": at})
    return render_template("dev_inbox.html", messages=messages, zone=zone)
