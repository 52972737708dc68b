"""The production web server: each gunicorn process builds its application (never before the fork), and the settings
are checked whole before gunicorn binds anything."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from dispatch import create_app
from dispatch.db import db
from dispatch.leader import hold_sqlite, is_postgresql


def build(environ: Mapping[str, str] | None = None) -> Flask:
    """Build the application of one web process, wired to wake the workers (and running one when DISPATCH_WEB_WORKER=1).

    On PostgreSQL a web process runs no tick and no sender unless DISPATCH_WEB_WORKER=1; after a commit that queued
    messages it NOTIFYs the workers. On SQLite the service is one process: the web process runs the worker itself
    (DISPATCH_WEB_WORKER=0 to not), and a second process on the same database refuses to start.
    """
    env = os.environ if environ is None else environ
    application = create_app(environ=env)
    url = application.config["SQLALCHEMY_DATABASE_URI"]
    shared = is_postgresql(url)
    if not shared:
        hold_sqlite(url, role="gunicorn (un processus web)")
    wanted = application.config["DISPATCH_WEB_WORKER"]
    if wanted or (wanted is None and not shared):
        from dispatch.worker import Worker

        Worker(application).start()  # wakes its own sender, plus the others by NOTIFY on PostgreSQL
    elif shared:
        from dispatch.wakeup import notifier

        with application.app_context():
            application.extensions["dispatch"].wakeup.subscribe(notifier(db.engine))
    return application


def check(environ: Mapping[str, str]) -> Flask:
    """Build the application once and release it: every setting (and every adapter's) refused before anything starts."""
    application = create_app(environ=environ)
    application.extensions["dispatch"].ports.close()
    with application.app_context():
        for engine in db.engines.values():
            engine.dispose()
    return application


def default_workers(url: str) -> int:
    """Return how many web processes to start: 2 per core on PostgreSQL, the one process SQLite allows."""
    return 2 * (os.cpu_count() or 1) if is_postgresql(url) else 1


class WebServer(BaseApplication):  # type: ignore[misc]
    """gunicorn run from `dispatch web` and `dispatch serve`, its settings given here rather than in a file."""

    def __init__(self, environ: Mapping[str, str], options: Mapping[str, Any]) -> None:
        self.environ = dict(environ)
        self.options = dict(options)
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return build(self.environ)  # in each process, after the fork: no connection nor thread is shared


def run_web(environ: Mapping[str, str], *, host: str, port: int, workers: int, threads: int = 4) -> None:
    """Serve the pages and the API with gunicorn until it is stopped (SIGTERM, SIGINT)."""
    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "proc_name": "dispatch-web",
        "accesslog": None,
        "errorlog": "-",
        "graceful_timeout": 30,
    }
    WebServer(environ, options).run()
