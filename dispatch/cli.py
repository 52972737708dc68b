"""The `dispatch` command: serve, web, worker, db upgrade, create-user, demo, settings-doc, retention, data, geo, community."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from flask import Flask

from config import settings
from dispatch import create_app
from dispatch.cli_maintenance import group as maintenance_group

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
INSTANCE = Path(__file__).resolve().parent.parent / "instance"  # create_app's instance folder


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    """Return the Alembic configuration for this database."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, *, data_key: str = "") -> None:
    """Apply every migration to the database at `url`; `data_key` encrypts the clinical text already there (0026)."""
    from alembic import command

    config = alembic_config(url)
    config.attributes["dispatch.data_key"] = data_key  # a migration reads no settings: it is given the key
    command.upgrade(config, "head")


def upgrade_fresh(url: str) -> None:
    """Empty a PostgreSQL database (tests and benchmarks only), then apply every migration."""
    if url.startswith("postgresql"):
        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade(url)


@contextlib.contextmanager
def one_shot() -> Iterator[Flask]:
    """Hold a fresh app's context for a command that does its work and ends, then close its database connections."""
    from dispatch.db import db as database

    app = create_app()
    with app.app_context():
        try:
            yield app
        finally:
            database.session.remove()
            for engine in database.engines.values():
                engine.dispose()


@click.group()
def main() -> None:
    """SNP Dispatch: demandes de soins non programmés pour les CPTS."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per tick


HOST = click.option("--host", default="127.0.0.1", show_default=True, help="Adresse d'écoute.")
PORT = click.option("--port", default=5000, show_default=True, type=int, help="Port d'écoute.")
WORKERS = click.option(
    "--workers", default=None, type=click.IntRange(1, 64), help="Processus web (par défaut 2 par cœur ; 1 sur SQLite)."
)


@main.command()
@HOST
@PORT
@WORKERS
def serve(host: str, port: int, workers: int | None) -> None:
    """Serve the API, the pages and the worker on one machine: gunicorn in production, Werkzeug in development."""
    environ = dict(os.environ)
    loaded = settings.load(INSTANCE, environ=environ)
    if settings.is_production(loaded):
        # Each web process also runs a worker: the tick (one leader among them) and the senders.
        _web({**environ, "DISPATCH_WEB_WORKER": "1"}, loaded, host=host, port=port, workers=workers)
        return
    from werkzeug.serving import run_simple

    from dispatch.worker import Worker

    app = create_app(environ=environ)
    _one_process_on_sqlite(app.config["SQLALCHEMY_DATABASE_URI"], role="dispatch serve")
    Worker(app).start()
    inbox = f"  (boîte de réception : http://{host}:{port}/dev/inbox)" if settings.dev_inbox(app.config) else ""
    click.echo(f"SNP Dispatch (développement) sur http://{host}:{port}{inbox}")
    run_simple(host, port, app, threaded=True, use_reloader=False)


@main.command()
@HOST
@PORT
@WORKERS
def web(host: str, port: int, workers: int | None) -> None:
    """Serve the API and the pages with gunicorn, without a worker (on PostgreSQL; SQLite's one process runs it)."""
    environ = dict(os.environ)
    _web(environ, settings.load(INSTANCE, environ=environ), host=host, port=port, workers=workers)


def _web(environ: dict[str, str], loaded: dict[str, object], *, host: str, port: int, workers: int | None) -> None:
    """Check everything, then hand over to gunicorn: nothing is bound nor started when a setting is refused."""
    from dispatch.leader import is_postgresql
    from dispatch.serving import check, default_workers, run_web

    url = str(loaded["SQLALCHEMY_DATABASE_URI"])
    if workers is not None and workers > 1 and not is_postgresql(url):
        raise settings.SettingsError([f"--workers {workers} : SQLite ne permet qu'un seul processus ; --workers 1, ou PostgreSQL."])
    check(environ)
    count = workers or default_workers(url)
    click.echo(f"SNP Dispatch sur http://{host}:{port} (gunicorn, {count} processus web)")
    run_web(environ, host=host, port=port, workers=count)


@main.command()
def worker() -> None:
    """Run only the tick and the outbox sender."""
    from dispatch.worker import run_forever

    app = create_app()
    _one_process_on_sqlite(app.config["SQLALCHEMY_DATABASE_URI"], role="dispatch worker")
    run_forever(app)


def _one_process_on_sqlite(url: str, *, role: str) -> None:
    """Exit with a clear message when another process already serves this SQLite database."""
    from dispatch.leader import SingleProcessError, hold_sqlite

    try:
        hold_sqlite(url, role=role)
    except SingleProcessError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


@main.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations (the database's settings only: a one-shot migration needs no transport)."""
    loaded = settings.load(INSTANCE)  # development: the generated data key, so a dev database is encrypted too
    upgrade(loaded["SQLALCHEMY_DATABASE_URI"], data_key=loaded["DISPATCH_DATA_KEY"])
    click.echo("Base de données à jour.")


@main.command("create-user")
@click.option("--role", type=click.Choice(["admin"]), default="admin", show_default=True)
@click.option("--login", required=True)
@click.option("--password", default=None, help="Mot de passe provisoire ; sinon --invite.")
@click.option(
    "--invite",
    type=click.Choice(["sms", "mail"]),
    default=None,
    help="Sans mot de passe : envoyer le lien à usage unique (7 jours) pour choisir le sien, par SMS ou par mail.",
)
@click.option("--name", default=None)
@click.option("--email", default=None, help="Adresse email (nécessaire pour --invite mail).")
@click.option("--phone", default=None, help="Numéro de portable (nécessaire pour --invite sms).")
def create_user(
    role: str, login: str, password: str | None, invite: str | None, name: str | None, email: str | None, phone: str | None
) -> None:
    """Create an administrator account, with a password or an invitation to choose one."""
    from dispatch.auth.accounts import create_invited

    if (password is None) == (invite is None):
        raise click.UsageError("Donnez --password ou --invite sms|mail (l'un des deux).")
    with one_shot() as app:
        runtime = app.extensions["dispatch"]
        try:
            sent = create_invited(
                login=login,
                password=password,
                invite=invite,
                name=name or login,
                role=role,
                email=email,
                phone=phone,
                now=runtime.clock.now(),
                ph=runtime.hasher,
                public_url=app.config["DISPATCH_PUBLIC_URL"],
            )
        except ValueError as exc:
            click.echo(str(exc), err=True)
            sys.exit(1)
    click.echo(f"Compte {role} {login} créé.")
    if sent is not None:
        how = "SMS au" if invite == "sms" else "mail à"
        click.echo(f"Invitation à choisir son mot de passe envoyée par {how} {sent} (lien valable 7 jours).")


@main.command()
def demo() -> None:
    """Load a demo community (idempotent) and print its logins."""
    from dispatch.demo import load_demo

    if settings.is_production(settings.load(INSTANCE)):
        raise settings.SettingsError(
            ["dispatch demo crée des comptes aux mots de passe connus : réservé à DISPATCH_ENV=development."]
        )
    with one_shot() as app:
        lines = load_demo(app)
    click.echo("\n".join(lines))


@main.command("settings-doc")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Fichier écrit (sinon la sortie).")
def settings_doc(out: Path | None) -> None:
    """Write the reference page of every setting (docs/settings.md), generated from config/variables.py."""
    from config.reference import render

    page = render()
    if out is None:
        click.echo(page, nl=False)
    else:
        out.write_text(page, encoding="utf-8")
        click.echo(f"{out} écrit.")


main.add_command(maintenance_group)  # dispatch maintenance start|status|end


@main.group()
def retention() -> None:
    """Health data kept for each community's retention_days and trail_days."""


@retention.command("run")
def retention_run() -> None:
    """Erase now what each community's retention says (the worker's leader does it once a day)."""
    from dispatch.privacy.retention import run_retention

    with one_shot() as app:
        swept = run_retention(now=app.extensions["dispatch"].clock.now())
    click.echo(
        f"Conservation appliquée : {swept.requests} demande(s) anonymisée(s), {swept.trail} ligne(s) du registre des "
        f"accès et {swept.events} événement(s) supprimés, {swept.messages} message(s) vidé(s) de leur adresse et texte."
    )


@main.group()
def data() -> None:
    """Clinical text encrypted at rest (DISPATCH_DATA_KEY)."""


@data.command("rotate-key")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000), help="Lignes par transaction.")
def data_rotate_key(batch: int) -> None:
    """Re-encrypt with DISPATCH_DATA_KEY what DISPATCH_DATA_KEY_OLD (or no key) wrote, so the old key can be removed."""
    from dispatch.privacy.data_key import rotate_data_key

    with one_shot():
        rewritten = rotate_data_key(batch=batch)
    click.echo(
        f"Chiffrement des textes cliniques : {rewritten['syntheses']} synthèse(s) et {rewritten['requests']} "
        "description(s) de demande rechiffrée(s) avec DISPATCH_DATA_KEY ; DISPATCH_DATA_KEY_OLD peut être retirée."
    )


@main.group()
def geo() -> None:
    """The national address base (BAN), where patients and practices are placed (DISPATCH_GEOCODER=ban)."""


@geo.command("load")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def geo_load(files: tuple[Path, ...]) -> None:
    """Load the BAN's CSV files per département (gzip or not), each replacing its département's earlier rows."""
    from dispatch.geo.loading import BadFile, load_file

    with one_shot():
        for path in files:
            try:
                loaded = load_file(path)
            except BadFile as exc:
                click.echo(str(exc), err=True)
                sys.exit(1)
            click.echo(
                f"{path.name} : département {loaded.departement}, {loaded.addresses} adresse(s), "
                f"{len(loaded.streets)} voie(s), {len(loaded.communes)} commune(s) (code postal)."
            )


@main.group()
def community() -> None:
    """A community leaving: export everything it holds, then remove it."""


@community.command("export")
@click.argument("community_id", type=int)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True), help="Fichier .zip à écrire.")
def community_export(community_id: int, out: str) -> None:
    """Write everything the community holds to a zip (JSON per table, syntheses' PDFs, a README)."""
    from dispatch.privacy.tenant import export_community

    with one_shot() as app:
        try:
            body = export_community(community_id=community_id, now=app.extensions["dispatch"].clock.now())
        except LookupError:
            click.echo(f"Communauté {community_id} introuvable.", err=True)
            sys.exit(1)
    Path(out).write_bytes(body)
    click.echo(f"Export de la communauté {community_id} écrit dans {out} ({len(body)} octets).")


@community.command("delete")
@click.argument("community_id", type=int)
@click.option("--confirm", required=True, help="Le nom exact de la communauté, pour confirmer.")
def community_delete(community_id: int, confirm: str) -> None:
    """Remove the community and everything it holds (its members of no other community with it)."""
    from dispatch.privacy.tenant import WrongName, delete_community

    with one_shot():
        try:
            removed = delete_community(community_id=community_id, confirm=confirm)
        except LookupError:
            click.echo(f"Communauté {community_id} introuvable.", err=True)
            sys.exit(1)
        except WrongName as exc:
            click.echo(f"Le nom ne correspond pas : pour confirmer, donnez --confirm « {exc} ».", err=True)
            sys.exit(1)
    total = sum(removed.values())
    click.echo(f"Communauté {community_id} supprimée : {total} ligne(s) dans {len(removed)} table(s).")


if __name__ == "__main__":
    main()
