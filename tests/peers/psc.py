"""A local Pro Santé Connect: oidc-provider-mock (PyPI) over TLS (certificates of a trustme CA) on 127.0.0.1.

oidc-provider-mock knows neither PKCE nor mTLS client authentication (it accepts any client with any secret, by
HTTP Basic only, and ignores `code_challenge`), so a WSGI layer in front of it checks both as Pro Santé Connect
does: the token endpoint answers only a connection that presented the client certificate the CA issued to the service
(the server asks every connection for one, CERT_OPTIONAL, so that a browser without any still reaches the
authorization page), and only with the `code_verifier` whose S256 is the challenge of the authorization that issued
the code; it then hands the mock the client's id as HTTP Basic credentials, the one client authentication the mock
takes. It also records what the authorization requests asked for (scope, acr_values, code_challenge_method).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import ssl
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import authlib.deprecate  # noqa: F401 -- first: on import it shows its own warnings "always"; ignored below instead
import trustme
from werkzeug.serving import make_server
from werkzeug.wrappers import Request

with warnings.catch_warnings():  # the mock imports Authlib's deprecated modules (authlib.jose, its httpx client)
    warnings.simplefilter("ignore", DeprecationWarning)
    from oidc_provider_mock import User, app


@dataclass
class Psc:
    """The running provider: its issuer URL, the files the service is configured with, what it saw."""

    issuer: str
    ca_file: Path
    client_cert: Path
    client_key: Path
    spki_sha256: str  # the server certificate's, for Chromium's --ignore-certificate-errors-spki-list
    authorizations: list[dict[str, str]] = field(default_factory=list)
    token_calls: list[dict[str, Any]] = field(default_factory=list)
    challenges: dict[str, str] = field(default_factory=dict)

    def settings(self, client_id: str = "snp-dispatch") -> dict[str, str]:
        return {
            "DISPATCH_PSC_ISSUER": self.issuer,
            "DISPATCH_PSC_CLIENT_ID": client_id,
            "DISPATCH_PSC_CLIENT_CERT": str(self.client_cert),
            "DISPATCH_PSC_CLIENT_KEY": str(self.client_key),
            "DISPATCH_PSC_CA": str(self.ca_file),
        }


def _s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class _Guard:
    """The WSGI layer that checks PKCE and the client certificate before oidc-provider-mock answers."""

    def __init__(self, app: Any, psc: Psc, client_pem: str) -> None:
        self.app, self.psc, self.client_pem = app, psc, client_pem
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/oauth2/authorize":
            return self._authorize(request, environ, start_response)
        if request.path == "/oauth2/token" and request.method == "POST":
            raw = request.get_data()
            environ["wsgi.input"] = io.BytesIO(raw)  # the provider reads the body again
            environ["CONTENT_LENGTH"] = str(len(raw))
            form = parse_qs(raw.decode())
            presented = environ.get("SSL_CLIENT_CERT")
            code = form.get("code", [""])[0]
            verifier = form.get("code_verifier", [""])[0]
            with self.lock:
                challenge = self.psc.challenges.pop(code, None)
                self.psc.token_calls.append({"client_cert": bool(presented), "form": form})
            same_cert = presented is not None and _der(presented) == _der(self.client_pem)
            if not same_cert:
                return _json(start_response, "401 Unauthorized", b'{"error": "invalid_client"}')
            if challenge is None or not verifier or _s256(verifier) != challenge:
                return _json(start_response, "400 Bad Request", b'{"error": "invalid_grant"}')
            # The certificate authenticated the client: tell the mock so in the only dialect it knows (HTTP Basic; it
            # takes any secret). A request that already carries a secret is no mTLS client: refused above all.
            if "client_secret" in form or "HTTP_AUTHORIZATION" in environ:
                return _json(start_response, "401 Unauthorized", b'{"error": "invalid_client"}')
            client_id = form.get("client_id", [""])[0]
            environ["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(f"{client_id}:mtls".encode()).decode()
        return self.app(environ, start_response)

    def _authorize(self, request: Request, environ: dict[str, Any], start_response: Any) -> Any:
        args = request.args
        with self.lock:
            self.psc.authorizations.append({key: args.get(key, "") for key in ("scope", "acr_values", "code_challenge_method")})
        captured: dict[str, str] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            for name, value in headers:
                if name.lower() == "location":
                    captured["location"] = value
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        answer = self.app(environ, capture)
        try:
            body = list(answer)  # the provider may start its response only once its body is read
        finally:
            getattr(answer, "close", lambda: None)()
        code = parse_qs(urlsplit(captured.get("location", "")).query).get("code", [""])[0]
        if code and args.get("code_challenge_method") == "S256":
            with self.lock:
                self.psc.challenges[code] = args.get("code_challenge", "")
        return body


def _der(pem: str) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem.strip() + "\n")


def _json(start_response: Any, status: str, body: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


@contextlib.contextmanager
def running(tmp_path: Path, users: list[tuple[str, dict[str, object]]]) -> Iterator[Psc]:
    """Serve Pro Santé Connect's stand-in on a free loopback port over TLS, with these (sub, claims) users."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1", "localhost")
    client_cert = ca.issue_cert("snp-dispatch.example")
    ca_file, client_file, key_file = tmp_path / "psc-ca.pem", tmp_path / "client.pem", tmp_path / "client.key"
    ca.cert_pem.write_to_path(str(ca_file))
    client_cert.cert_chain_pems[0].write_to_path(str(client_file))
    client_cert.private_key_pem.write_to_path(str(key_file))

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_cert.configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_OPTIONAL  # asked of all, required by the token endpoint only (see _Guard)

    der = x509.load_pem_x509_certificate(server_cert.cert_chain_pems[0].bytes())
    spki = der.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    provider = app(user_claims=[User(sub=sub, claims=claims) for sub, claims in users])
    psc = Psc(
        issuer="",
        ca_file=ca_file,
        client_cert=client_file,
        client_key=key_file,
        spki_sha256=base64.b64encode(hashlib.sha256(spki).digest()).decode(),
    )
    server = make_server(
        "127.0.0.1", 0, _Guard(provider, psc, client_cert.cert_chain_pems[0].bytes().decode()), threaded=True, ssl_context=context
    )
    psc.issuer = f"https://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield psc
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
