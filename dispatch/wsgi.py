"""WSGI entry point for a gunicorn of one's own: `gunicorn -w 4 -b 127.0.0.1:5000 'dispatch.wsgi:app'` (without
--preload); `dispatch web` runs the same application with gunicorn from the command line (dispatch/serving.py).

On PostgreSQL a web process runs no tick and no sender (the `dispatch worker` processes do) unless
DISPATCH_WEB_WORKER=1; after a commit that queued messages it NOTIFYs the workers. On SQLite the
service is one process: the web process runs the worker itself (DISPATCH_WEB_WORKER=0 to not), and a
second process on the same database (another gunicorn worker, `dispatch worker`, `dispatch serve`)
refuses to start.
"""

from __future__ import annotations

from dispatch.serving import build

app = build()
