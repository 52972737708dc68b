"""gunicorn settings of SNP Dispatch's web processes: `gunicorn --config deploy/gunicorn.conf.py`.

The image copies this file to /etc/snp-dispatch/gunicorn.conf.py; the systemd unit reads it from there too.
Every log line, gunicorn's own and the access log, is one JSON object (dispatch.logs.JsonFormatter), like the
service's. The access log writes the path without its query string, with secrets of password links masked.

Settings a provider may change without editing this file (environment of the process):
  GUNICORN_BIND     address to listen on (default 0.0.0.0:8000 in a container; the unit sets 127.0.0.1:8000)
  GUNICORN_WORKERS  web processes (default 2 × cores + 1, at most 8): on PostgreSQL only; SQLite takes exactly 1
  GUNICORN_TIMEOUT  seconds before a stuck web process is killed and replaced (default 30)
Never `--preload`: each web process opens its own database connections after the fork.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from gunicorn import glogging

wsgi_app = "dispatch.wsgi:app"
bind = [os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")]
workers = int(os.environ.get("GUNICORN_WORKERS") or min(2 * (os.cpu_count() or 1) + 1, 8))
threads = 1
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 30  # a rolling restart lets a request in flight finish
keepalive = 5  # nginx keeps connections to the upstream open (keepalive in the sample)
max_requests = 2000  # a slow leak never grows for ever
max_requests_jitter = 200  # ...and the web processes are not all replaced at once
preload_app = False
# The heartbeat file of each web process: on a tmpfs (a read-only root filesystem has no writable /tmp).
worker_tmp_dir = "/dev/shm"  # noqa: S108 (a tmpfs of the process's own, not a shared /tmp)
# gunicorn's control socket (gunicorn 25+) would be written under $HOME: nothing uses it here.
control_socket_disable = True
# Headers the reverse proxy sets are trusted by the application (DISPATCH_PROXY_HOPS), not by gunicorn.
forwarded_allow_ips = "127.0.0.1,::1"
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
proc_name = "snp-dispatch-web"


class JsonLogger(glogging.Logger):
    """gunicorn's logger writing JSON lines: its error log as the service's, one object per HTTP answer."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        from dispatch.logs import JsonFormatter

        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter())

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        """Log one answer: method, path (no query string), status, duration, size, request id, client address."""
        if not self.cfg.accesslog:
            return
        from dispatch.logs import redact

        headers = dict(resp.headers or [])
        request_id = next((value for name, value in headers.items() if name.lower() == "x-request-id"), None)
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
        path = redact(environ.get("PATH_INFO", ""))
        status = int(str(resp.status).split(None, 1)[0]) if resp.status else 0
        try:
            self.access_log.info(
                "%s %s %s",
                environ.get("REQUEST_METHOD", ""),
                path,
                status,
                extra={
                    "method": environ.get("REQUEST_METHOD", ""),
                    "path": path,
                    "status": status,
                    "duration_ms": round(request_time.total_seconds() * 1000, 1),
                    "bytes": getattr(resp, "sent", None),
                    "request_id": request_id,
                    # The client as the proxy saw it (the last address it added), else the peer itself.
                    "client": forwarded.rsplit(",", 1)[-1].strip() if forwarded else environ.get("REMOTE_ADDR"),
                    "user_agent": environ.get("HTTP_USER_AGENT", "")[:200],
                },
            )
        except Exception:
            logging.getLogger("gunicorn.error").exception("access log line not written")


logger_class = JsonLogger


def child_exit(server: Any, worker: Any) -> None:
    """A web process ended: forget its live gauges in the metrics folder (its counters stay counted)."""
    from dispatch import metrics

    metrics.process_exited(worker.pid)
