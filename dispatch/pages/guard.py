"""Sessions of the pages: sign-in and sign-out, the CSRF token, security headers, HTML errors."""

from __future__ import annotations

import hmac
import math
import secrets
import unicodedata
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, current_app, g, make_response, redirect, render_template, request, session, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from config import settings
from dispatch import errors, maintenance, policy
from dispatch.auth import service as auth
from dispatch.auth.models import User
from dispatch.db import db
from dispatch.errors import Problem
from dispatch.pages import bp, unchanged
from dispatch.policy import Action
from dispatch.requests import links, live_versions
from dispatch.web import client_label, now, runtime

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
HOMES = {
    "operator": "pages.console",
    "physician": "pages.offers",
    "coordinator": "pages.dashboard",
    "admin": "pages.communities_page",
    "requester": "pages.my_requests",
}


@bp.record_once
def _cookie_settings(state: Any) -> None:
    """Make the session cookie HttpOnly, SameSite=Lax, and Secure whenever the public URL is https (and anywhere
    but a loopback dev address)."""
    app: Flask = state.app
    host = urlsplit(app.config.get("DISPATCH_PUBLIC_URL", "")).hostname or ""
    dev = app.config.get("DISPATCH_PUBLIC_URL", "").lower().startswith("http://") and host in ("127.0.0.1", "localhost", "::1")
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_https(app.config) or not dev,
        SESSION_COOKIE_NAME="snp_session",
        PERMANENT_SESSION_LIFETIME=REMEMBER,  # a remembered session's cookie outlives the browser's closing
    )


@bp.app_template_global()
def csrf_token() -> str:
    """Return this session's CSRF token, creating it on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


RESUME = "reprise"  # ?reprise=1 on the page a form came from: the session had expired, the form is offered again


# The forms one posts without being signed in: signing in and out, asking for a forgotten password, choosing a
# password from a reset or invitation link.
ANONYMOUS_FORMS = (
    "pages.sign_in",
    "pages.sign_out",
    "pages.forgot_password",
    "pages.reset_password",
    "pages.choose_password",
    "pages.offer_link",
    "pages.sign_in_code",
)
REMEMBER = timedelta(days=30)  # "Rester connecté sur ce téléphone": a physician's session, revocable from "partout"
SESSION_KEY = "sid"  # the cookie holds a pages' session id, never an API bearer token (scope "page")
# A session opened by an offer's SMS link (scope "offer") holds the one request it opens, in the signed cookie; it
# reaches that request's pages only: the offer, the answers to it, its state and its documents.
ONLY = "only"
LIMITED = frozenset(
    {
        "pages.offer",
        "pages.accept",
        "pages.refuse",
        "pages.outcome",
        "pages.release",
        "pages.offer_state",
        "pages.synthesis_pdf",
        "pages.calendar_entry",
    }
)
# A sign-in whose password was right and that waits for its second factor: the account, when, "remember", the next
# page; in the signed cookie, never a session of its own (nothing is reachable with it but the second step).
PENDING_KEY = "pending_2fa"


def _session_user() -> User | None:
    """Return the user of the pages' session in the cookie, if it is still valid and reaches this page."""
    sid = session.get(SESSION_KEY)
    if not isinstance(sid, str) or not sid:
        return None
    only = session.get(ONLY)
    if only is None:
        return auth.resolve_token(token=sid, now=now(), scope="page")
    if request.endpoint not in LIMITED or (request.view_args or {}).get("request_id") != only:
        return None  # anything else asks for the password (and then opens a full session)
    return auth.resolve_token(token=sid, now=now(), scope=links.SCOPE)


def limited_to() -> int | None:
    """Return the request this session is limited to, when it was opened by an offer's SMS link."""
    only = session.get(ONLY)
    return only if isinstance(only, int) and session.get(SESSION_KEY) else None


def open_page_session(result: auth.Session, next_page: str | None, *, only: int | None = None) -> str:
    """Put a signed-in user's session in the cookie (fresh, with a new CSRF token); return where to go next.

    `only`: the one request a session opened by an offer's SMS link reaches.
    """
    session.clear()  # a fresh session (and CSRF token) for the signed-in user
    session.permanent = result.expires_in >= REMEMBER.total_seconds()  # else it ends with the browser
    session[SESSION_KEY] = result.token
    if only is not None:
        session[ONLY] = only
    csrf_token()
    return next_page or url_for(HOMES.get(result.user.role, "pages.home"))


# What the installable app needs even during a maintenance, and which holds no data: its service worker, its offline shell.
MAINTENANCE_EXEMPT = ("pages.service_worker", "pages.offline")


@bp.before_request
def in_maintenance() -> BaseResponse | tuple[str, int, dict[str, str]] | None:
    """Show the maintenance page (503, Retry-After, reloading itself) instead of any page while the service is in
    maintenance; the pages' own scripts get the problem+json of the API. Runs before the session is read."""
    if request.endpoint in MAINTENANCE_EXEMPT:
        return None
    state = maintenance.cached()
    if state is None:
        return None
    wait = str(maintenance.RETRY_AFTER_S)
    if _wants_json():
        return errors.problem_response(
            503,
            code="maintenance",
            detail="Le service est en maintenance : réessayez dans quelques minutes.",
            headers={"Retry-After": wait},
        )
    g.user = None
    page = render_template("pages/maintenance.html", reason=state.reason, retry_after=wait)
    return page, 503, {"Retry-After": wait, "Refresh": wait}


# The live pages' polls (dispatch.pages.live) a recent full answer lets answer 304 before the session's lookup.
LIVE_POLLS = frozenset(("pages.list_state", "pages.offer_state", "pages.console_state", "pages.console_request_state"))


def _unchanged_poll() -> Response | None:
    """Answer 304 to a live page's poll whose tag still holds, from its recipe of the last seconds (one read)."""
    if request.method != "GET" or request.endpoint not in LIVE_POLLS or not request.if_none_match:
        return None
    sid = session.get(SESSION_KEY)
    recipe = unchanged.recipe_for(sid, request.full_path) if isinstance(sid, str) and sid else None
    if recipe is None:
        return None
    tag = recipe.tag(live_versions.versions(recipe.communities), now())
    return unchanged.not_modified(tag) if request.if_none_match.contains(tag) else None


@bp.before_request
def load_session() -> Response | None:
    """Resolve the session's bearer token into g.user and refuse a POST without the session's CSRF token.

    A form posted once the session is gone (expired token, or no cookie at all) is not an attack to refuse but a
    user to sign in again: it answers 401, which sends them to sign in and back to the page the form was on.
    """
    polled = _unchanged_poll()
    if polled is not None:
        g.user = None
        return polled
    g.user = _session_user()
    if request.method == "POST":
        if g.user is None and request.endpoint not in ANONYMOUS_FORMS:
            raise Problem(401, "unauthorized", "Votre session a expiré : reconnectez-vous.")
        # Forms send the token as a field; the page's scripts (JSON bodies) as a header.
        sent = request.form.get("csrf_token", "") or request.headers.get("X-CSRF-Token", "")
        expected = session.get("csrf", "")
        if not expected or not hmac.compare_digest(str(sent), str(expected)):
            raise Problem(403, "csrf", "Le formulaire a expiré ou ne vient pas de ce site : rechargez la page et recommencez.")
    return None


@bp.after_request
def security_headers(response: Response) -> Response:
    """Forbid framing and inline scripts; never cache a page (they may carry patient data)."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_context_processor
def page_globals() -> dict[str, Any]:
    """Give templates the signed-in user and whether the dev inbox exists."""
    return {"page_user": g.get("user"), "dev_inbox": settings.dev_inbox(current_app.config)}


TITLES = {
    403: "Accès refusé",
    404: "Page introuvable",
    405: "Adresse à ouvrir autrement",
    409: "Conflit",
    413: "Envoi trop volumineux",
    429: "Trop de tentatives",
}
DETAILS = {
    403: "Vous n'avez pas accès à cette page avec ce compte.",
    404: "Cette adresse ne correspond à aucune page : vérifiez-la, ou repartez de l'accueil.",
    405: "Cette adresse s'utilise depuis un formulaire : repartez de la page précédente ou de l'accueil.",
    413: "Le fichier ou le formulaire envoyé dépasse 1 Mio : revenez à la page précédente et envoyez un fichier plus petit.",
}


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _resume_target() -> str:
    """Return where to come back after signing in: the page itself, or, for a posted form, the page it came from.

    A form posted to an address that is also its page (the console's opening form) comes back to that page, with
    its query (the community shown); otherwise to the nearest page above it (an offer for its "accepter").
    """
    if request.method in ("GET", "HEAD"):
        return request.full_path.rstrip("?")
    adapter = current_app.url_map.bind("localhost")
    parts = request.path.strip("/").split("/")
    query = "&".join(f"{key}={value}" for key, value in request.args.items(multi=True) if key != RESUME)
    for depth in range(len(parts), -1, -1):  # the posted address itself first, then each page above it
        path = "/" + "/".join(parts[:depth])
        for candidate in dict.fromkeys((path, path.rstrip("/") + "/")):
            try:
                adapter.match(candidate, method="GET")
            except HTTPException:
                continue
            same = depth == len(parts) and query  # the page the form was posted to keeps its query
            return f"{candidate}?{query + '&' if same else ''}{RESUME}=1"
    return "/"


@bp.errorhandler(HTTPException)
def html_error(error: HTTPException) -> BaseResponse:
    """Show errors of the pages as French pages; send strangers to sign in, and back where they were."""
    status = error.code or 500
    if _wants_json():  # the pages' own scripts (fetch) read problems
        return errors.from_http_exception(error)
    if status == 401:
        return redirect(url_for("pages.sign_in", next=_resume_target()))
    detail = error.detail if isinstance(error, Problem) else None
    answer = make_response(
        render_template(
            "pages/error.html",
            title=TITLES.get(status, "Erreur"),
            detail=detail or DETAILS.get(status, "Cette page n'est pas disponible."),
            status=status,
        ),
        status,
    )
    if isinstance(error, Problem):
        answer.headers.update(error.extra_headers)  # a 503's Retry-After, as the API sends it
    return answer


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def outside_error(error: HTTPException) -> BaseResponse:
    """Answer an unknown address or method as a French page, except under /api/ where the API speaks problem+json."""
    if request.path.startswith("/api/") or _wants_json():
        return errors.from_http_exception(error)
    g.user = _session_user()  # outside the blueprint nobody read the session yet: the page shows who is signed in
    return html_error(error)


@bp.errorhandler(Exception)
def unexpected(error: Exception) -> BaseResponse | tuple[str, int]:
    """Log an unexpected error of the pages and show a French page rather than a JSON problem."""
    db.session.rollback()
    busy = errors.statement_timed_out(error)
    if busy is not None:  # a statement over the web's statement_timeout: 503 and Retry-After, as the API answers
        current_app.logger.warning("statement timeout on %s %s", request.method, request.path)
        return html_error(busy)
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return render_template(
        "pages/error.html", title="Erreur interne", status=500, detail="Une erreur inattendue est survenue ; elle a été consignée."
    ), 500


def signed_in(action: Action | None = None) -> User:
    """Return the signed-in user if their role can be entitled to `action` (any if None); 401 or 403 otherwise."""
    user = g.get("user")
    if user is None:
        raise Problem(401, "unauthorized", "Connectez-vous.")
    if action is not None and not policy.role_may(user.role, action):
        raise Problem(403, "forbidden", "Votre rôle ne donne pas accès à cette page.")
    return user  # type: ignore[no-any-return]


def role_page(action: Action) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a view so that only signed-in users whose role can be entitled to `action` reach it."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            signed_in(action)
            return view(*args, **kwargs)

        wrapper.__name__ = view.__name__
        wrapper.__doc__ = view.__doc__
        return wrapper

    return decorate


def wait_words(seconds: int) -> str:
    """Say a wait in French: « 30 secondes », « 2 minutes »."""
    if seconds < 60:
        return f"{seconds} seconde{'s' if seconds > 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes > 1 else ''}"


def _safe_next(target: str | None) -> str | None:
    """Return `target` rebuilt as a path of this site, or None (no open redirect, no header injection).

    Parsed, not pattern-matched: no scheme, no host, a path starting with a single slash; no backslash and no
    control character or blank, which browsers strip or read as a slash (`/%09/evil.example` becomes `//evil.example`).
    """
    if not target or len(target) > 2000 or "\\" in target or any(c.isspace() or unicodedata.category(c)[0] == "C" for c in target):
        return None
    try:
        parts = urlsplit(target)
    except ValueError:
        return None
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return urlunsplit(("", "", parts.path, parts.query, parts.fragment))


@bp.route("/")
def home() -> BaseResponse:
    """Send each user to the page made for their role."""
    user = signed_in()
    return redirect(url_for(HOMES.get(user.role, "pages.sign_in")))


@bp.route("/connexion", methods=["GET", "POST"])
def sign_in() -> Any:
    """Show the sign-in form and open a session with the same checks and rate limits as the API."""
    error, status = None, 200
    login = ""
    if request.method == "POST":
        login = request.form.get("login", "").strip()[:120]
        password = request.form.get("password", "")[:256]
        config = current_app.config
        try:
            result = auth.sign_in(
                login=login,
                password=password,
                address=request.remote_addr,
                client=client_label(),
                now=now(),
                ph=runtime().hasher,
                limits=auth.SignInLimits.from_config(config),
                scope="page",
                remember_s=int(REMEMBER.total_seconds()) if request.form.get("remember") == "1" else None,
                production=settings.is_production(config),
            )
        except auth.TotpRequired as exc:  # the password was right: the second step asks for the code (or enrols)
            session.clear()
            session[PENDING_KEY] = {
                "uid": exc.user.id,
                "at": int(now().timestamp()),
                "remember": request.form.get("remember") == "1",
                "next": _safe_next(request.args.get("next")),
            }
            return redirect(url_for("pages.sign_in_code"))
        except auth.TooManyAttempts as exc:
            error, status = (f"Trop de tentatives de connexion : réessayez dans {wait_words(exc.retry_after)}.", 429)
        except auth.AccountDisabled:
            error, status = "Ce compte a été désactivé. Adressez-vous à la coordination de votre CPTS.", 403
        except auth.BadCredentials:
            error, status = "Identifiant ou mot de passe incorrect.", 401
        else:
            return redirect(open_page_session(result, _safe_next(request.args.get("next"))))
    resuming = f"{RESUME}=1" in (request.args.get("next") or "")
    psc = settings.psc_configured(current_app.config)
    return render_template(
        "pages/sign_in.html", error=error, login=login, resuming=resuming, psc=psc, limited_to=limited_to()
    ), status


@bp.route("/deconnexion", methods=["POST"])
def sign_out() -> BaseResponse:
    """Revoke the session's token and forget the session."""
    sid = session.get(SESSION_KEY)
    if isinstance(sid, str) and sid:
        auth.sign_out(token=sid, now=now())
        unchanged.forget_session(sid)
    session.clear()
    return redirect(url_for("pages.sign_in"))


@bp.app_template_filter("dig")
def dig(values: Any, path: str) -> Any:
    """Return values['a']['b'] for 'a.b' in a template, or '' when absent."""
    for part in path.split("."):
        if not isinstance(values, dict) or part not in values:
            return ""
        values = values[part]
    return values
