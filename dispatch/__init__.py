"""SNP Dispatch: unscheduled-care requests dispatched to the physicians of a CPTS."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, request
from flask_smorest import Api
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

import config as _config

if getattr(_config, "DISTRIBUTION", None) != "snp-dispatch":  # another `config` module shadows ours
    raise ImportError(
        f"Le module « config » chargé ({getattr(_config, '__file__', None) or 'sans fichier'}) n'est pas celui de "
        "SNP Dispatch : un fichier config.py ou un dossier config/ du dossier courant, du PYTHONPATH ou d'un autre paquet "
        "installé le masque. Renommez-le, ou lancez dispatch depuis un autre dossier."
    )

from config import settings  # noqa: E402 -- once the check above passed
from dispatch import encryption, errors  # noqa: E402
from dispatch.db import db as _db  # noqa: E402

if TYPE_CHECKING:
    from dispatch.runtime import Clock, Ports


class DispatchApi(Api):
    """flask-smorest's Api, answering every error as problem+json."""

    from dispatch.schemas import ProblemOut as ERROR_SCHEMA  # noqa: N811,N814 -- flask-smorest's hook

    # Errors are documented per operation as problem+json by errors.ProblemDocPlugin, not as a catch-all.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        return errors.from_http_exception(error)


def create_app(
    config: Mapping[str, Any] | None = None,
    *,
    clock: Clock | None = None,
    ports: Ports | None = None,
    environ: Mapping[str, str] | None = None,
) -> Flask:
    """Build the application: settings, database, API, pages, and the adapters to the outside.

    `config` overrides the settings (defaults, then `environ`, os.environ unless given); `clock` and `ports` replace the system
    clock and the adapters the settings select (tests). The app runs no tick and no sender: the entry points
    (`dispatch serve`, `dispatch worker`, the WSGI module) decide what a process runs.
    """
    from dispatch import guards, logs, messages_fr, wiring
    from dispatch.runtime import install_session_hooks

    app = Flask(__name__, instance_path=str(Path(__file__).resolve().parent.parent / "instance"), instance_relative_config=True)
    app.config.update(settings.load(Path(app.instance_path), config, environ))
    wiring.check_settings(app.config)
    hops = wiring.proxy_hops(app.config)
    if hops:  # the client's address (throttling, logs, the access trail) is the one the proxies saw, not theirs
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    else:  # a proxy nobody declared makes every user one address: said in the log, once
        app.wsgi_app = wiring.ForwardedWarning(app.wsgi_app)  # type: ignore[method-assign]
    messages_fr.install()
    logs.configure(app)  # before the database: SQL parameters are hidden from logs and errors
    _db.init_app(app)
    encryption.init_app(app)  # the keys of the clinical text encrypted at rest
    install_session_hooks(_db.session)
    from dispatch.requests import live_versions, rollup

    rollup.install(_db.session)
    live_versions.install(_db.session)  # after the rollups: its row lock is the transaction's last
    api = DispatchApi(
        app,
        spec_kwargs={"info": {"description": "API de SNP Dispatch (contrat v1)."}, "extra_plugins": [errors.ProblemDocPlugin()]},
    )
    from dispatch.web import IdConverter, id_param_schema

    app.url_map.converters["int"] = IdConverter  # ids in paths stay within the database's integers
    api.register_converter(IdConverter, id_param_schema)
    _register_blueprints(app, api)
    guards.install(app)  # before every view, in order: 404, 413, 415, 401, 400
    _register_answers(app)
    app.extensions["dispatch"] = wiring.build_runtime(app.config, clock=clock, ports=ports)
    from dispatch import delivery

    delivery.register(app)
    from dispatch.communities.membership import AFTER_DEACTIVATION
    from dispatch.requests.tick import offers_gone, treating_gone

    # A deactivated physician holds no request as treating GP, and their pending offers leave their phones.
    app.extensions[AFTER_DEACTIVATION] = (treating_gone, offers_gone)
    return app


def _register_blueprints(app: Flask, api: Api) -> None:
    from dispatch.api.auth import bp as auth_bp
    from dispatch.api.communities import bp as communities_bp
    from dispatch.api.members import bp as members_bp
    from dispatch.api.requests import bp as requests_bp
    from dispatch.api.rules import bp as rules_bp
    from dispatch.api.subjects import bp as subjects_bp
    from dispatch.api.synthesis import bp as synthesis_bp
    from dispatch.dev import bp as dev_bp
    from dispatch.health import bp as health_bp
    from dispatch.health import metrics_bp
    from dispatch.pages import bp as pages_bp
    from mobile_api.views import bp as mobile_bp

    for bp in (health_bp, auth_bp, communities_bp, members_bp, rules_bp, requests_bp, mobile_bp, synthesis_bp, subjects_bp):
        api.register_blueprint(bp)
    from dispatch.api.reports import bp as reports_bp  # staff figures (issue 6)

    api.register_blueprint(reports_bp)
    from dispatch.notify.webhooks import bp as webhooks_bp  # provider callbacks, signed (issue 3)

    api.register_blueprint(webhooks_bp)
    if settings.dev_inbox(app.config):  # every patient's mail and SMS: served only when asked, never on https
        app.register_blueprint(dev_bp)
    app.register_blueprint(metrics_bp)
    app.register_blueprint(pages_bp)


CSP_DEFAULT = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'"
CSP_API = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000"  # one year; subdomains are the CPTS's own business


def _register_answers(app: Flask) -> None:
    """Give every answer the safety headers, and every error a problem+json body (the pages have their own)."""

    https = settings.public_https(app.config)

    @app.after_request
    def headers(response: Response) -> Response:
        if https:  # served over https: browsers never try it in clear again, whatever link they are given
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        # App-wide defaults; a blueprint that sets its own (the pages do) keeps them.
        api = request.path.startswith("/api/")
        response.headers.setdefault("Content-Security-Policy", CSP_API if api else CSP_DEFAULT)
        response.headers.setdefault("X-Frame-Options", "DENY")
        # Anything may carry patient data but static files, whose Cache-Control flask sets itself.
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return errors.from_http_exception(error)

    @app.errorhandler(DBAPIError)
    def database_error(error: DBAPIError) -> Response:
        _db.session.rollback()
        busy = errors.statement_timed_out(error)
        if busy is not None:  # over DISPATCH_STATEMENT_TIMEOUT_MS: the call changed nothing; the client tries later
            app.logger.warning("statement timeout on %s %s", request.method, request.path)
            return errors.from_http_exception(busy)
        if error.connection_invalidated:
            # The database dropped the connection (a restart, a failover): the pool starts afresh and the
            # call changed nothing; the client may send it again at once.
            app.logger.warning("database connection lost on %s %s", request.method, request.path)
            return errors.problem_response(
                503, detail="La base de données vient de redémarrer ; réessayez.", headers={"Retry-After": "1"}
            )
        return unexpected(error)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        _db.session.rollback()
        return errors.problem_response(500, detail="Une erreur inattendue est survenue ; elle a été consignée.")
