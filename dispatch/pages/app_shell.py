"""The installable physician app around the pages: its service worker, offline shell, and notification settings."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy import func, select

from dispatch import texts
from dispatch.communities import service as communities
from dispatch.communities.models import Device
from dispatch.db import db
from dispatch.notify.outbox import enqueue
from dispatch.notify.webpush import validate_subscription
from dispatch.pages import bp
from dispatch.pages.common import cacheable, iso, user_zone
from dispatch.pages.guard import role_page
from dispatch.pages.physician import current_physician
from dispatch.policy import Action
from dispatch.web import now, runtime

WORKER = Path(__file__).resolve().parent.parent / "static" / "sw.js"
TEST_PUSH_TTL = timedelta(minutes=10)


@bp.route("/m/sw.js")
def service_worker() -> Any:
    """Serve the service worker from /m/ so that its scope is the physician's pages."""
    response = current_app.response_class(WORKER.read_bytes(), mimetype="application/javascript")
    response.headers["Cache-Control"] = "no-cache"  # browsers check for a new version on every visit
    return response


@bp.route("/m/offline")
def offline() -> Any:
    """Return the page shown when the network is gone: no user, no patient, nothing but the banner."""
    response = current_app.make_response(render_template("pages/offline.html", offline_shell=True, page_user=None))
    return cacheable(response)


@bp.route("/m/notifications")
@role_page(Action.ACCEPT)
def settings() -> Any:
    """Show the notification switch, the test push, the devices registered and how to install the app."""
    physician = current_physician()
    devices = db.session.scalars(select(Device).where(Device.physician_id == physician.id).order_by(Device.id)).all()
    return render_template(
        "pages/settings.html",
        vapid_key=runtime().ports.vapid_public_key,
        devices=[{"platform": d.platform, "created_at": d.created_at, "last_success_at": d.last_success_at} for d in devices],
        tz=user_zone(physician.user),
    )


@bp.route("/m/appareils", methods=["POST"])
@role_page(Action.ACCEPT)
def register_browser() -> Any:
    """Register this browser's push subscription (JSON from the page, CSRF token in a header)."""
    physician = current_physician()
    body = request.get_json(silent=True)
    subscription = body.get("subscription") if isinstance(body, dict) else None
    try:
        token = validate_subscription(subscription, current_app.config["DISPATCH_WEBPUSH_HOSTS"])
    except ValueError as exc:
        return jsonify({"status": 422, "code": "invalid", "detail": str(exc)}), 422
    try:
        device, created = communities.register_device(physician=physician, platform="webpush", token=token, now=now())
    except communities.Conflict as exc:
        return jsonify({"status": 409, "code": exc.code, "detail": exc.detail}), 409
    return jsonify({"id": device.id}), 201 if created else 200


@bp.route("/m/notifications/essai", methods=["POST"])
@role_page(Action.ACCEPT)
def test_push() -> Any:
    """Queue a test notification to every device of mine; the outbox sender delivers it."""
    physician = current_physician()
    at = now()
    phone_state = request.form.get("phone_state", "")
    if phone_state and phone_state != "granted":  # this phone's page said so: nothing would show here
        flash("Les notifications sont désactivées sur ce téléphone\u00a0: activez-les, puis essayez.", "warn")
        return redirect(url_for("pages.settings"))
    count = db.session.scalar(select(func.count(Device.id)).where(Device.physician_id == physician.id)) or 0
    if not count:
        flash("Aucun appareil n'est inscrit\u00a0: activez d'abord les notifications sur ce téléphone.", "warn")
        return redirect(url_for("pages.settings"))
    enqueue(
        channel="push",
        kind="test",
        key=f"test-{physician.id}-{at.isoformat()}",
        now=at,
        physician_id=physician.id,
        payload={
            "data": {"type": "test", "request_id": "", "sent_at": iso(at) or ""},
            "title": "Notification d'essai",
            "body": "Les demandes de la CPTS arriveront ainsi sur cet appareil.",
            "urgent": False,
            "collapse_key": "test",
            "expires_at": iso(at + TEST_PUSH_TTL),
        },
    )
    db.session.commit()
    devices = "votre appareil inscrit" if count == 1 else f"vos {count} appareils inscrits"
    flash(f"Notification d'essai partie vers {devices}\u00a0: elle arrive dans quelques secondes.", "ok")
    return redirect(url_for("pages.settings"))


@bp.app_template_filter("local_date")
def local_date(at: datetime | None, tz: str) -> str:
    """Return a UTC time as the local 'dd/mm/yyyy à HH:MM' ('' for None)."""
    return texts.local(at, tz).strftime("%d/%m/%Y à %H:%M") if at else ""
