"""The health checks and the metrics: the service answers and its database too (liveness); the engine ticks and its
messages leave on time (readiness of what dispatches); and Prometheus's view of both."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, request
from flask_smorest import Blueprint
from marshmallow import fields
from sqlalchemy import func, select, text

from dispatch import maintenance, metrics
from dispatch.clock import system_now
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.heartbeat import last_beat
from dispatch.notify.outbox import due_now
from dispatch.notify.vapid import KEY_FILE
from dispatch.requests.models import Request
from dispatch.requests.states import OPEN_STATES
from dispatch.schemas import Integer, Schema
from dispatch.web import now

bp = Blueprint("health", __name__, url_prefix="/api/v1", description="État du service")
metrics_bp = FlaskBlueprint("metrics", __name__)

TICK_STALE_S = 10  # no tick for that long: no worker leads, deadlines pass unseen
DUE_LATE_S = 60  # a message waiting that long past its due time: no sender works


class HealthOut(Schema):
    status = fields.String()


class OutboxStateOut(Schema):
    due = Integer(metadata={"description": "Messages dont l'heure d'envoi est passée"})
    oldest_due_age_s = fields.Float(allow_none=True, metadata={"description": "Retard du plus ancien, en secondes"})


class EngineOut(Schema):
    status = fields.String(metadata={"description": "ok, degraded (503), ou maintenance (503 : la tick et l'envoi sont suspendus)"})
    tick_age_s = fields.Float(allow_none=True, metadata={"description": "Secondes depuis le dernier tick d'un worker"})
    outbox = fields.Nested(OutboxStateOut)


@bp.route("/healthz", methods=["GET"])
@bp.response(200, HealthOut)
@bp.alt_response(503, description="La base de données ne répond pas")
def healthz() -> dict[str, str]:
    """Say whether the service and its database answer."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        raise Problem(503, "unavailable", "La base de données ne répond pas.") from None
    return {"status": "ok"}


def engine_state(at: datetime) -> dict[str, Any]:
    """Return the engine's state: the tick's age, and the messages past their due time (all, by channel, oldest)."""
    beat = last_beat()
    by_channel, oldest = due_now(now=at)
    tick_age = round((at - beat).total_seconds(), 3) if beat is not None else None
    oldest_age = round((at - oldest).total_seconds(), 3) if oldest is not None else None
    stale = tick_age is None or tick_age > TICK_STALE_S or (oldest_age is not None and oldest_age > DUE_LATE_S)
    held = maintenance.current() is not None  # nothing is dispatched on purpose: not a fault, but not ready either
    return {
        "status": "maintenance" if held else "degraded" if stale else "ok",
        "tick_age_s": tick_age,
        "outbox": {"due": sum(by_channel.values()), "oldest_due_age_s": oldest_age},
        "by_channel": by_channel,
    }


@bp.route("/health/engine", methods=["GET"])
@bp.response(200, EngineOut)
@bp.alt_response(
    503, schema=EngineOut, description="Aucun tick depuis 10 s, un message attend depuis plus de 60 s, ou maintenance en cours"
)
def engine() -> Any:
    """Say whether some worker ticks and messages leave on time (503 with the same body when not)."""
    state = engine_state(now())
    state.pop("by_channel")
    return state, 200 if state["status"] == "ok" else 503


class _EngineCollector:
    """The engine's state read from the database at each scrape: the same in every process that answers it."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def collect(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily

        state = engine_state(self.at)
        due = GaugeMetricFamily("dispatch_outbox_due", "Messages dont l'heure d'envoi est passée, par canal", labels=["channel"])
        for channel in ("push", "sms", "mail", "directory"):
            due.add_metric([channel], state["by_channel"].get(channel, 0))
        yield due
        oldest = state["outbox"]["oldest_due_age_s"]
        yield GaugeMetricFamily(
            "dispatch_outbox_oldest_due_seconds", "Retard du plus ancien message dû, en secondes", value=oldest or 0.0
        )
        tick = state["tick_age_s"]
        yield GaugeMetricFamily(
            "dispatch_tick_age_seconds",
            "Secondes depuis le dernier tick d'un worker (+Inf s'il n'y en a jamais eu)",
            value=float("inf") if tick is None else tick,
        )
        counts = dict(
            db.session.execute(
                select(Request.state, func.count()).where(Request.state.in_(OPEN_STATES)).group_by(Request.state)
            ).all()
        )
        open_ = GaugeMetricFamily("dispatch_requests_open", "Demandes ouvertes, par phase", labels=["phase"])
        for phase in OPEN_STATES:
            open_.add_metric([str(phase)], counts.get(phase, 0))
        yield open_
        yield from _expiries(current_app.config, system_now())


def _expiries(config: Any, at: datetime) -> Any:
    """The MSSanté client certificate's time left and the VAPID key's age, when they are files (alert rules in deploy/).

    Read against the machine's clock, not the service's: a certificate expires in the world's time.
    """
    from cryptography import x509
    from prometheus_client.core import GaugeMetricFamily

    cert = str(config.get("DISPATCH_SMTP_CERT") or "")
    left = GaugeMetricFamily(
        "dispatch_certificate_expiry_seconds",
        "Secondes avant l'expiration d'un certificat (négatif : expiré)",
        labels=["certificate"],
    )
    if cert and Path(cert).is_file():
        try:
            not_after = x509.load_pem_x509_certificate(Path(cert).read_bytes()).not_valid_after_utc
            left.add_metric(["mssante_client"], (not_after - at).total_seconds())
        except ValueError:
            pass  # unreadable: the sender says so when it connects
    yield left
    key = str(config.get("DISPATCH_VAPID_PRIVATE_KEY") or "")
    path = Path(key) if key and Path(key).is_file() else Path(current_app.instance_path) / KEY_FILE
    if path.is_file():
        created = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        yield GaugeMetricFamily(
            "dispatch_vapid_key_age_seconds", "Âge de la clé VAPID (Web Push), en secondes", value=(at - created).total_seconds()
        )


@metrics_bp.route("/metrics")
def scrape() -> Response:
    """Expose the metrics to Prometheus, to the bearer of DISPATCH_METRICS_TOKEN only (404 when it is unset)."""
    expected = str(current_app.config.get("DISPATCH_METRICS_TOKEN") or "")
    if not expected:
        raise Problem(404, "not_found", "Cette adresse n'existe pas.")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Problem(401, "unauthorized", "Jeton des métriques absent ou invalide.")
    body, content_type = metrics.exposition([_EngineCollector(now())])
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})
