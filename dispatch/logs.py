"""Structured logs: one JSON object per line, each with the HTTP request's id, never a secret."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import uuid
from time import gmtime, perf_counter
from typing import Any

from flask import Flask, Response, g, has_request_context, request

from dispatch import metrics

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Secrets that must never reach a log line, whoever wrote it: bearer tokens, passwords, token fields.
_SECRETS = [
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [masqué]"),
    (re.compile(r"(?i)(\"?(?:access_token|password|token|authorization)\"?\s*[:=]\s*\"?)[^\"\s,}&]+"), r"\1[masqué]"),
    # The secret of a link to choose a password (reset, invitation) is the path's last segment: the server's
    # request log writes paths (dispatch.auth.accounts RESET_PATH, INVITATION_PATH).
    (re.compile(r"(/(?:reinitialisation|definir-mot-de-passe)/)[^\s\"?#/\x1b]+"), r"\1[masqué]"),
]
# Fields of a LogRecord that are not extras given by the caller.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id"}
_MARK = "_dispatch_json"


def redact(text: str) -> str:
    """Return `text` with bearer tokens and password or token values masked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message, request id and extras."""

    converter = gmtime  # type: ignore[assignment]  # timestamps in UTC, like the rest of the service

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a single line of JSON, secrets masked."""
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, (int, float, bool, type(None))) else redact(str(value))
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class RequestIdFilter(logging.Filter):
    """Attach the current HTTP request's id to every record logged while serving it."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add `request_id` when there is one; never drop a record."""
        if not getattr(record, "request_id", None) and has_request_context():
            record.request_id = g.get("request_id")
        return True


def handler(stream: Any = None) -> logging.Handler:
    """Return a stream handler writing JSON lines with request ids."""
    out = logging.StreamHandler(stream or sys.stderr)
    out.setFormatter(JsonFormatter())
    out.addFilter(RequestIdFilter())
    setattr(out, _MARK, True)
    return out


def set_levels(name: str) -> None:
    """Log JSON lines at level `name` for the app, werkzeug and (statements only, when debugging) SQLAlchemy."""
    found = logging.getLevelName(str(name).upper())
    level = found if isinstance(found, int) else logging.INFO
    root = logging.getLogger()
    if not any(getattr(h, _MARK, False) for h in root.handlers):
        for existing in [h for h in root.handlers if type(h) is logging.StreamHandler]:
            root.removeHandler(existing)  # the CLI's plain basicConfig handler: one format only
        root.addHandler(handler())
    root.setLevel(level)
    for logger in ("dispatch", "mobile_api", "werkzeug"):
        logging.getLogger(logger).setLevel(level)
    # SQLAlchemy logs result rows at DEBUG: at most the statements (parameters hidden), and only when debugging.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO if level <= logging.DEBUG else logging.WARNING)


def configure(app: Flask) -> None:
    """Send the app's, werkzeug's and SQLAlchemy's logs as JSON lines; give every request an id."""
    # SQL parameters hold patient identity: never in a log line nor an exception message.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}), "hide_parameters": True}
    set_levels(app.config.get("DISPATCH_LOG_LEVEL") or os.environ.get("DISPATCH_LOG_LEVEL") or "INFO")
    access = logging.getLogger("dispatch.access")

    @app.before_request
    def request_id() -> None:
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        g.request_started = perf_counter()

    @app.after_request
    def access_log(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id") or uuid.uuid4().hex
        seconds = perf_counter() - g.get("request_started", perf_counter())
        # The route's pattern, never the path: no id in a label (an unknown address counts as one).
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.observe_http(method=request.method, endpoint=endpoint, status=response.status_code, seconds=seconds)
        if request.path.startswith("/api/"):
            access.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(seconds * 1000, 1),
                    "user_id": g.get("user_id"),
                },
            )  # read at sign-in: the user object may be expired by now
        return response
