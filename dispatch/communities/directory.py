"""When to ask the national directory (Annuaire Santé) for an outside treating GP's MSSanté address.

The community's directory entry is the cache: an address an operator typed is never looked up, one the directory
gave is reused (and refreshed after FOUND_TTL), a GP the directory had no box for is asked again after
NOT_FOUND_TTL, and one lookup at a time is in flight per entry. The lookup itself is an outbox message (channel
"directory"): it runs in the worker after the request's transaction commits, retried like any message, so that
opening a request never waits for the directory nor fails with it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from flask import current_app, has_app_context

from dispatch.communities.models import DirectoryEntry
from dispatch.notify.outbox import enqueue
from dispatch.runtime import Runtime

LOOKUP_KIND = "mssante_lookup"
FOUND_TTL = timedelta(days=90)  # an address from the directory is checked again when a request needs it after this
NOT_FOUND_TTL = timedelta(days=7)  # a GP without a box may open one: ask again after a week
SOURCES = ("operator", "annuaire")


def lookups_enabled() -> bool:
    """Tell whether this app asks the national directory (DISPATCH_ANNUAIRE_URL set: a directory port)."""
    if not has_app_context():
        return False
    runtime = current_app.extensions.get("dispatch")
    return isinstance(runtime, Runtime) and runtime.ports.directory is not None


def needs_lookup(entry: DirectoryEntry, *, now: datetime) -> bool:
    """Tell whether the directory must be asked for this entry's address now (the cache says nothing fresh)."""
    if not entry.rpps or entry.lookup_status == "pending":
        return False
    if entry.mssante and entry.mssante_source != "annuaire":
        return False  # typed by an operator: theirs, never replaced by a lookup
    if entry.looked_up_at is None or entry.lookup_status not in ("found", "not_found"):
        return True
    ttl = FOUND_TTL if entry.lookup_status == "found" else NOT_FOUND_TTL
    return now - entry.looked_up_at >= ttl


def ask_directory(entry: DirectoryEntry, *, now: datetime) -> bool:
    """Queue a lookup of the entry's MSSanté address by RPPS if one is needed (caller's transaction); say if queued."""
    if not lookups_enabled() or not needs_lookup(entry, now=now):
        return False
    entry.lookup_status = "pending"
    enqueue(
        channel="directory",
        kind=LOOKUP_KIND,
        key=f"{LOOKUP_KIND}:{entry.id}:{uuid.uuid4().hex}",  # concurrent openings may each ask once: never a clash
        now=now,
        payload={"entry_id": entry.id, "rpps": entry.rpps},
    )
    return True
