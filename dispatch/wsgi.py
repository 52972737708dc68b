"""WSGI entry point for gunicorn: `gunicorn -w 4 -b 127.0.0.1:5000 'dispatch.wsgi:app'` (without --preload).

On PostgreSQL a web process runs no tick and no sender (the `dispatch worker` processes do) unless
DISPATCH_WEB_WORKER=1; after a commit that queued messages it NOTIFYs the workers. On SQLite the
service is one process: the web process runs the worker itself (DISPATCH_WEB_WORKER=0 to not), and a
second process on the same database (another gunicorn worker, `dispatch worker`, `dispatch serve`)
refuses to start.
"""

from __future__ import annotations

import os

from flask import Flask

from dispatch import create_app
from dispatch.db import db
from dispatch.leader import hold_sqlite, is_postgresql


def build(environ: dict[str, str] | None = None) -> Flask:
    """Build the application of one web process, wired to wake the workers."""
    env = os.environ if environ is None else environ
    application = create_app()
    url = application.config["SQLALCHEMY_DATABASE_URI"]
    shared = is_postgresql(url)
    if not shared:
        hold_sqlite(url, role="gunicorn (un processus web)")
    wanted = env.get("DISPATCH_WEB_WORKER", "" if shared else "1")
    if wanted == "1":
        from dispatch.worker import Worker

        Worker(application).start()  # wakes its own sender, plus the others by NOTIFY on PostgreSQL
    elif shared:
        from dispatch.wakeup import notifier

        with application.app_context():
            application.extensions["dispatch"].wakeup.subscribe(notifier(db.engine))
    return application


app = build()
