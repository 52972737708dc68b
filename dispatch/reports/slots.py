"""A bound on the staff's exports drawn at once (CSV, XLSX, PDF) across the deployment: off the live pages' path.

An export of a year is seconds of CPU and a web process held all along (gunicorn's sync workers serve one call at a
time). Drawn in the web process still, but at most `EXPORT_SLOTS` at once: on PostgreSQL one advisory lock per slot,
taken on a connection of its own for as long as the file is drawn or streamed, so the bound holds for every web
process together; on SQLite (one process) a semaphore. Past it the call answers 503 with Retry-After and the staff
member tries again: the other web processes keep serving the live pages and the phones. Drawing the files in the
worker and serving them later would also free the web processes, but for a file the staff wait for, a few a day, a
bound is the simpler honest answer (issue 24, point 7).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import func, select

from dispatch.db import db
from dispatch.errors import Problem

EXPORT_SLOTS = 2
LOCK_KEY = 24_007  # the advisory locks' first key: (LOCK_KEY, slot)
_LOCAL = threading.BoundedSemaphore(EXPORT_SLOTS)
BUSY = Problem(
    503,
    "busy",
    "D'autres exports sont en cours : réessayez dans une minute.",
    headers={"Retry-After": "30"},
)


def take() -> Callable[[], None]:
    """Take an export slot and return what gives it back; answer 503 with Retry-After when all are taken."""
    if db.engine.dialect.name != "postgresql":
        if not _LOCAL.acquire(blocking=False):
            raise BUSY
        return _LOCAL.release
    connection = db.engine.connect()
    try:
        for slot in range(EXPORT_SLOTS):
            if connection.scalar(select(func.pg_try_advisory_lock(LOCK_KEY, slot))):
                connection.commit()

                def give_back(slot: int = slot) -> None:
                    try:
                        connection.scalar(select(func.pg_advisory_unlock(LOCK_KEY, slot)))
                        connection.commit()
                    finally:
                        connection.close()

                return give_back
    except BaseException:
        connection.close()
        raise
    connection.close()
    raise BUSY


@contextlib.contextmanager
def export_slot() -> Iterator[None]:
    """Hold an export slot while the block draws a file (503 with Retry-After if none is free)."""
    give_back = take()
    try:
        yield
    finally:
        give_back()


class Held:
    """A streamed export that holds its slot from now until the server closes it (sent, or the client gone)."""

    def __init__(self, chunks: Iterable[Any]) -> None:
        self._release: Callable[[], None] | None = take()  # before the 200 goes: a busy export answers 503
        self._chunks = iter(chunks)

    def __iter__(self) -> Held:
        return self

    def __next__(self) -> Any:
        try:
            return next(self._chunks)
        except StopIteration:
            self.close()  # read to the end (by a test, or a caller that never closes): the slot is free again
            raise

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()
