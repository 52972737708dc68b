"""Prometheus instruments: what every process of the machine did (web and workers), in prometheus_client's
multiprocess mode when PROMETHEUS_MULTIPROC_DIR names a folder they share.

prometheus_client chooses how it keeps values when it is first imported, from that variable: it is imported here on
first use only, after the command line has set the folder (dispatch.cli). No label ever holds a person, a request id
or free text: endpoints are Flask's route patterns (`/api/v1/requests/<int:request_id>/accept`).
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Iterable
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds: from a cached page (a few ms) to a PDF or an export under load.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CHANNELS = ("push", "webpush", "sms", "mail")
RESULTS = ("sent", "failed", "dead")


def process_identity(pid: int | None = None) -> str:
    """Name a process's files in the shared folder: the host's name and the pid.

    Containers of one machine (web, workers) share the folder so that any web process shows what the workers sent,
    but each has its own pid numbering (every container's first process is pid 1): the host name (a container's id)
    keeps their files apart. `_` separates the parts of prometheus_client's file names: none in ours.
    """
    return f"{socket.gethostname()}-{os.getpid() if pid is None else pid}".replace("_", "-")


@functools.cache
def _instruments() -> dict[str, Any]:
    from prometheus_client import Counter, Histogram, values

    if os.environ.get(MULTIPROC_ENV):
        values.ValueClass = values.MultiProcessValue(process_identifier=process_identity)

    return {
        "http": Histogram(
            "dispatch_http_request_duration_seconds",
            "Durée des réponses HTTP, par méthode, route et statut",
            ["method", "endpoint", "status"],
            buckets=HTTP_BUCKETS,
        ),
        "sent": Counter(
            "dispatch_messages_sent_total",
            "Messages remis à leur service (push, Web Push, SMS, messagerie), par canal et résultat",
            ["channel", "result"],
        ),
    }


def observe_http(*, method: str, endpoint: str, status: int, seconds: float) -> None:
    """Count one HTTP answer under its route's pattern (never its path: ids stay out of the labels)."""
    _instruments()["http"].labels(method=method, endpoint=endpoint, status=str(status)).observe(seconds)


def count_sent(channel: str, result: str, n: int = 1) -> None:
    """Count `n` messages handed to their service on `channel` with `result` (sent, failed, dead)."""
    if n > 0 and channel in CHANNELS and result in RESULTS:
        _instruments()["sent"].labels(channel=channel, result=result).inc(n)


def exposition(extra: Iterable[Any] = ()) -> tuple[bytes, str]:
    """Return the text exposition of every process's instruments (or this one's) and of `extra` collectors."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

    _instruments()  # the families are listed even before the first count
    counted = REGISTRY
    if os.environ.get(MULTIPROC_ENV):
        counted = CollectorRegistry(auto_describe=True)
        multiprocess.MultiProcessCollector(counted)
    scraped = CollectorRegistry()  # read for this scrape only, never kept (and not collected to describe it)
    for collector in extra:
        scraped.register(collector)
    return generate_latest(counted) + generate_latest(scraped), CONTENT_TYPE_LATEST


def process_exited(pid: int) -> None:
    """Forget a dead process's live gauges (gunicorn's child_exit calls it); its counters stay counted."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(process_identity(pid))
