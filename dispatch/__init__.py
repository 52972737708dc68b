"""SNP Dispatch: unscheduled-care requests dispatched to the physicians of a CPTS."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, g, request
from flask_smorest import Api
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from config import settings
from dispatch import errors
from dispatch.db import db as _db

if TYPE_CHECKING:
    from dispatch.runtime import Clock, Ports


class DispatchApi(Api):
    """flask-smorest's Api, answering every error as problem+json."""

    from dispatch.schemas import ProblemOut as ERROR_SCHEMA  # noqa: N811,N814 -- flask-smorest's hook

    # Errors are documented per operation as problem+json by errors.ProblemDocPlugin, not as a catch-all.
    DEFAULT_ERROR_RESPONSE_NAME = None

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        return errors.from_http_exception(error)


def create_app(config: Mapping[str, Any] | None = None, *, clock: Clock | None = None, ports: Ports | None = None) -> Flask:
    """Build the application: settings, database, API, pages, and the adapters to the outside.

    `config` overrides the settings (defaults, then environment); `clock` and `ports` replace the system
    clock and the adapters the settings select (tests). The app runs no tick and no sender: the entry points
    (`dispatch serve`, `dispatch worker`, the WSGI module) decide what a process runs.
    """
    from dispatch import logs, messages_fr, wiring
    from dispatch.runtime import install_session_hooks

    app = Flask(__name__, instance_path=str(Path(__file__).resolve().parent.parent / "instance"), instance_relative_config=True)
    app.config.update(settings.load(Path(app.instance_path), config))
    wiring.check_settings(app.config)
    hops = wiring.proxy_hops(app.config)
    if hops:  # the client's address (throttling, logs, the access trail) is the one the proxies saw, not theirs
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    messages_fr.install()
    logs.configure(app)  # before the database: SQL parameters are hidden from logs and errors
    _db.init_app(app)
    install_session_hooks(_db.session)
    from dispatch.requests import rollup

    rollup.install(_db.session)
    api = DispatchApi(
        app,
        spec_kwargs={"info": {"description": "API de SNP Dispatch (contrat v1)."}, "extra_plugins": [errors.ProblemDocPlugin()]},
    )
    from dispatch.web import IdConverter, id_param_schema

    app.url_map.converters["int"] = IdConverter  # ids in paths stay within the database's integers
    api.register_converter(IdConverter, id_param_schema)
    _register_blueprints(app, api)
    _register_guards(app)
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
    from dispatch.api.synthesis import bp as synthesis_bp
    from dispatch.dev import bp as dev_bp
    from dispatch.health import bp as health_bp
    from dispatch.pages import bp as pages_bp
    from mobile_api.views import bp as mobile_bp

    for bp in (health_bp, auth_bp, communities_bp, members_bp, requests_bp, mobile_bp, synthesis_bp):
        api.register_blueprint(bp)
    from dispatch.api.reports import bp as reports_bp  # staff figures (issue 6)

    api.register_blueprint(reports_bp)
    from dispatch.notify.webhooks import bp as webhooks_bp  # provider callbacks, signed (issue 3)

    api.register_blueprint(webhooks_bp)
    if settings.dev_inbox(app.config):  # every patient's mail and SMS: served only when asked, never on https
        app.register_blueprint(dev_bp)
    app.register_blueprint(pages_bp)


PUBLIC = {
    ("POST", "/api/v1/auth/token"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/healthz"),
    ("HEAD", "/api/v1/healthz"),
    ("GET", "/api/v1/webpush/key"),
}


def _public(method: str, path: str) -> bool:
    """Say whether an API call needs no bearer token (sign-in, the document, health, provider webhooks)."""
    return (method, path) in PUBLIC or path.startswith("/api/v1/webhooks/") or method == "OPTIONS"


CSP_DEFAULT = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'"
CSP_API = "default-src 'none'; frame-ancestors 'none'"


def _register_guards(app: Flask) -> None:
    from dispatch.auth.service import resolve_token
    from dispatch.web import bearer_token, id_out_of_range, json_too_deep, now

    def _too_deep() -> Response | None:
        """Answer 400 to a JSON body nested beyond the parser's recursion limit, rather than a 500 in the view."""
        length = request.content_length
        if request.method not in ("POST", "PUT", "PATCH") or not request.is_json:
            return None
        if length is None and not request.headers.get("Transfer-Encoding"):
            return None  # nothing to read
        if length is not None and length > app.config["MAX_CONTENT_LENGTH"]:
            return None  # too long: answered 413 (the API above, werkzeug for the pages)
        if json_too_deep(request.get_data(cache=True)):
            return errors.problem_response(400, code="invalid_json", detail="Le corps JSON est trop imbriqué.")
        return None

    @app.before_request
    def guard() -> Response | None:
        g.pop("now", None)  # read the clock once per HTTP request, even under a shared app context
        if not request.path.startswith("/api/"):
            if id_out_of_range(request.view_args):
                raise NotFound()  # a page id beyond the database's integers: the pages' French 404
            return _too_deep()
        if id_out_of_range(request.view_args):
            return errors.problem_response(404, detail="Ressource introuvable.")
        if request.routing_exception is not None:
            return None  # an unknown path or method answers its 404/405, as the public document shows
        length = request.content_length
        if length is not None and length > app.config["MAX_CONTENT_LENGTH"]:
            return errors.problem_response(413, detail="Le corps de la requête dépasse 1 Mio.")
        if length is None and request.headers.get("Transfer-Encoding"):
            try:  # chunked: no length announced, so read at most the limit (werkzeug stops there) and keep it
                whole = len(request.get_data(cache=True)) < app.config["MAX_CONTENT_LENGTH"] or not request.stream.read(1)
            except RequestEntityTooLarge:
                whole = False
            if not whole:
                return errors.problem_response(413, detail="Le corps de la requête dépasse 1 Mio.")
        has_body = request.method in ("POST", "PUT", "PATCH") and (length or request.headers.get("Transfer-Encoding"))
        # Providers' webhooks post forms; everything else speaks JSON.
        if has_body and not request.is_json and not request.path.startswith("/api/v1/webhooks/"):
            return errors.problem_response(415, detail="Envoyez le corps en JSON (Content-Type: application/json).")
        token = bearer_token()
        view = app.view_functions.get(request.endpoint or "")
        if token and getattr(view, "autocommit_read", False) and not _db.session().in_transaction():
            # A read declared @autocommit_read writes at most one INSERT (the access trail): no BEGIN, no COMMIT.
            _db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        g.user = resolve_token(token=token, now=now()) if token else None
        g.user_id = g.user.id if g.user is not None else None
        if g.user is None and not _public(request.method, request.path):
            # Authentication comes before anything else: no validation detail for strangers.
            return errors.problem_response(
                401,
                code="unauthorized",
                detail="Jeton d'accès absent, expiré ou révoqué.",
                headers={"WWW-Authenticate": 'Bearer realm="snp-dispatch"'},
            )
        return _too_deep()

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        # App-wide defaults; a blueprint that sets its own (the pages do) keeps them.
        api = request.path.startswith("/api/")
        response.headers.setdefault("Content-Security-Policy", CSP_API if api else CSP_DEFAULT)
        response.headers.setdefault("X-Frame-Options", "DENY")
        # Anything may carry patient data but static files, whose Cache-Control flask sets itself.
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.teardown_appcontext
    def cleanup(_exc: BaseException | None) -> None:
        _db.session.remove()

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        return errors.from_http_exception(error)

    @app.errorhandler(DBAPIError)
    def database_error(error: DBAPIError) -> Response:
        _db.session.rollback()
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
