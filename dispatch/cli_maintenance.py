"""`dispatch maintenance start|status|end`: put the service in maintenance, say whether it is, end it and give every
open request the time lost (README, "Maintenance, outages and restores")."""

from __future__ import annotations

import contextlib
import getpass
import socket
import sys
from collections.abc import Iterator
from datetime import datetime

import click
from flask import Flask

from dispatch import create_app, french, maintenance
from dispatch.db import db
from dispatch.requests import outage


@contextlib.contextmanager
def _one_shot() -> Iterator[Flask]:
    """Hold a fresh app's context for one command, then close its database connections."""
    app = create_app()
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


def _now(app: Flask) -> datetime:
    return app.extensions["dispatch"].clock.now()  # type: ignore[no-any-return]


def _utc(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def _who() -> str:
    """Name who runs the command, for the record: the system account and the machine."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    return f"{user}@{socket.gethostname()}"


@click.group("maintenance")
def group() -> None:
    """Maintenance: the API answers 503, the pages say so, no deadline passes and no message leaves."""


@group.command("start")
@click.option("--reason", default=None, help="Motif, affiché sur la page de maintenance.")
def start(reason: str | None) -> None:
    """Put the service in maintenance."""
    with _one_shot() as app:
        try:
            state = maintenance.start(now=_now(app), by=_who(), reason=reason)
        except maintenance.AlreadyOn as exc:
            click.echo(f"Une maintenance est déjà en cours depuis {_utc(exc.state.started_at)} ({exc.state.started_by}).", err=True)
            sys.exit(1)
    click.echo(
        f"Maintenance commencée à {_utc(state.started_at)}. L'API répond 503, les pages affichent la maintenance, "
        "aucun délai ne passe et aucun message ne part. Terminez-la par « dispatch maintenance end »."
    )


@group.command("status")
def status() -> None:
    """Say whether the service is in maintenance, since when, by whom and why."""
    with _one_shot() as app:
        state = maintenance.current()
        now = _now(app)
    if state is None:
        click.echo("Pas de maintenance en cours.")
        return
    lasted = french.duration((now - state.started_at).total_seconds())
    reason = f", motif : {state.reason}" if state.reason else ""
    click.echo(f"Maintenance en cours depuis {_utc(state.started_at)} ({lasted}), commencée par {state.started_by}{reason}.")


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("une date et heure ISO 8601, par exemple 2026-11-23T14:05:00+01:00.") from None
    if at.tzinfo is None:
        raise click.BadParameter("précisez le fuseau horaire (…+01:00, ou Z pour UTC).")
    return at


@group.command("end")
@click.option(
    "--since",
    default=None,
    help="Début de la panne (ISO 8601 avec fuseau), s'il précède la maintenance ou si aucune n'a été commencée "
    "(après une restauration) : le temps perdu se compte depuis là.",
)
def end(since: str | None) -> None:
    """End the maintenance and move each open request's deadlines by the time lost."""
    start_of_outage = _since(since)
    with _one_shot() as app:
        try:
            ended = outage.end_maintenance(now=_now(app), since=start_of_outage)
        except outage.NotInMaintenance:
            click.echo(
                "Pas de maintenance en cours. Après une panne ou une restauration sans maintenance, donnez le début de "
                "la panne : dispatch maintenance end --since 2026-11-23T14:05:00+01:00",
                err=True,
            )
            sys.exit(1)
        except outage.SinceInFuture:
            click.echo("--since est dans le futur : donnez l'heure à laquelle la panne a commencé.", err=True)
            sys.exit(2)
    lost = french.duration(ended.by.total_seconds())
    what = "Maintenance terminée" if ended.was_on else "Temps perdu rendu"
    click.echo(
        f"{what} : durée perdue {lost} depuis {_utc(ended.since)} ; les délais de "
        f"{french.count(ended.moved, 'demande ouverte', 'demandes ouvertes')} prolongés de {int(ended.by.total_seconds())} s."
    )
