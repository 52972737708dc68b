"""Pro Santé Connect, the national sign-in of health professionals: an OpenID Connect client through Authlib.

Authorization code with PKCE (S256), `scope=openid scope_all`, `acr_values=eidas1` (and the ID token's `acr` must say
so); at the token endpoint the service authenticates by its certificate (mTLS, `tls_client_auth`: the client id in
the body, the certificate and key of DISPATCH_PSC_CLIENT_CERT/KEY on the connection). The professional's identifier
is the userinfo's `SubjectNameID`: "8" followed by the RPPS. The client is made once per app, on first use.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.base_client.errors import OAuthError
from authlib.oauth2.auth import encode_none
from flask import Flask

SCOPE = "openid scope_all"
ACR = "eidas1"
AUTH_METHOD = "tls_client_auth"  # RFC 8705: the client is who its certificate says; the body names it
TIMEOUT_S = 10
_EXTENSION = "dispatch.psc"


class PscFailed(Exception):
    """The provider refused, or answered something the service cannot trust (state, nonce, signature, acr)."""


def _tls_client_auth(client: Any, method: str, uri: str, headers: dict[str, str], body: str) -> Any:
    """Name the client in the body; the TLS connection carries its certificate (the session's `cert`)."""
    return encode_none(client, method, uri, headers, body)


def client(app: Flask) -> Any:
    """Return the app's Pro Santé Connect client (Authlib's Flask OAuth 2 app), made from its settings on first use."""
    made = app.extensions.get(_EXTENSION)
    if made is None:
        from authlib.integrations.flask_client import OAuth

        config = app.config
        session_kwargs: dict[str, Any] = {
            "scope": SCOPE,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": AUTH_METHOD,
            "default_timeout": TIMEOUT_S,
        }
        cert, key = str(config.get("DISPATCH_PSC_CLIENT_CERT") or ""), str(config.get("DISPATCH_PSC_CLIENT_KEY") or "")
        if cert:
            session_kwargs["cert"] = (cert, key) if key else cert
        if config.get("DISPATCH_PSC_CA"):
            session_kwargs["verify"] = str(config["DISPATCH_PSC_CA"])
            # requests lets REQUESTS_CA_BUNDLE (environment) override a session's `verify`: not this CA's.
            session_kwargs["trust_env"] = False
        issuer = str(config["DISPATCH_PSC_ISSUER"]).strip().rstrip("/")
        oauth = OAuth(app)
        made = oauth.register(
            "psc",
            client_id=str(config["DISPATCH_PSC_CLIENT_ID"]).strip(),
            server_metadata_url=f"{issuer}/.well-known/openid-configuration",
            client_kwargs=session_kwargs,
            client_auth_methods=[(AUTH_METHOD, _tls_client_auth)],
            authorize_params={"acr_values": ACR},
        )
        app.extensions[_EXTENSION] = made
    return made


def start(app: Flask, *, redirect_uri: str) -> Any:
    """Return the redirect to the provider's authorization page (state, nonce and PKCE verifier kept in the session)."""
    try:
        return client(app).authorize_redirect(redirect_uri)
    except Exception as exc:  # the provider's metadata unreachable or unreadable
        raise PscFailed(type(exc).__name__) from None


def finish(app: Flask) -> str:
    """Exchange the code of the provider's redirect for tokens (checking state, PKCE, the ID token and its acr), read
    the userinfo; return its SubjectNameID."""
    psc = client(app)
    try:
        token = psc.authorize_access_token(claims_options={"acr": {"essential": True, "value": ACR}})
        if "userinfo" not in token:  # no ID token, or one without our nonce: nothing says who signed in
            raise PscFailed("id_token")
        info = psc.userinfo(token=token)
    except PscFailed:
        raise
    except (OAuthError, Exception) as exc:  # refused, tampered with, or unreachable: never a 500
        raise PscFailed(type(exc).__name__) from None
    subject = info.get("SubjectNameID")
    if not isinstance(subject, str):
        raise PscFailed("SubjectNameID")
    return subject
