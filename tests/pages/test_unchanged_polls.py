"""A live page's poll answered 304 before its session's lookup, for a few seconds after a full answer (issue 24,
point 7; dispatch.pages.unchanged): one read of the counters, and never anything but "nothing moved"."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from dispatch.auth.accounts import revoke_tokens
from dispatch.db import db
from dispatch.pages import unchanged
from tests.pages.test_console_browser import shift
from tests.pages.test_live_versions import _urls

IDS = ["/m/etat", "/m/requests/<id>/etat", "/console/etat", "/console/demandes/<id>/etat"]


@contextmanager
def statements() -> Iterator[list[str]]:
    """Collect the SQL statements run meanwhile."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Move this process's monotonic clock (the recipes' freshness) by `seconds`."""
    import time

    shift_s = [0.0]
    real = time.monotonic
    monkeypatch.setattr(unchanged.time, "monotonic", lambda: real() + shift_s[0])

    def move(seconds: float) -> None:
        shift_s[0] += seconds

    return move


@pytest.mark.parametrize("index", range(4), ids=IDS)
def test_a_poll_just_after_a_full_answer_is_one_read_of_the_counters(make: Any, as_user: Any, index: int) -> None:
    w = shift(make)
    opened = make.open(w["nadia"], w["community"], treating=w["gp"])
    who, url = _urls(w, opened)[index]
    client = as_user(w[who])
    tag = client.get(url).headers["ETag"]
    with statements() as full:
        assert client.get(url).status_code == 200  # no tag sent: the full answer, its session lookup included
    with statements() as fast:
        answer = client.get(url, headers={"If-None-Match": tag})
    assert answer.status_code == 304 and answer.get_data() == b"" and answer.headers["ETag"] == tag
    assert len(fast) == 1 and "community_versions" in fast[0] and len(full) > 1
    # A change: the counters moved, the poll gets the full answer (and a new tag) at once.
    assert make.accept(w["gp"], opened["id"], minutes=45).status_code == 200
    moved = client.get(url, headers={"If-None-Match": tag})
    assert moved.status_code == 200 and moved.headers["ETag"] != tag


def test_past_its_few_seconds_a_poll_goes_through_the_session_again(make: Any, clock: Any, as_user: Any, later: Any) -> None:
    w = shift(make)
    opened = make.open(w["nadia"], w["community"], treating=w["gp"])
    client = as_user(w["gp"])
    url = f"/m/requests/{opened['id']}/etat"
    tag = client.get(url).headers["ETag"]
    revoke_tokens(user_id=w["gp"].user.id, now=clock.now())  # every session of theirs, elsewhere
    db.session.commit()
    # Revoked elsewhere: for the few seconds of its recipe, the poll still hears only "nothing moved"...
    assert client.get(url, headers={"If-None-Match": tag}).status_code == 304
    later(unchanged.FRESH_S + 0.1)
    # ...then it goes through the session's lookup, and is turned away.
    assert client.get(url, headers={"If-None-Match": tag}).status_code in (401, 302)


def test_a_recipe_is_one_session_s_and_signing_out_forgets_it(make: Any, as_user: Any) -> None:
    w = shift(make)
    opened = make.open(w["nadia"], w["community"], treating=w["gp"])
    url = f"/console/demandes/{opened['id']}/etat"
    yves = as_user(w["yves"])
    tag = yves.get(url).headers["ETag"]
    nadia = as_user(w["nadia"])  # another session, another user: no recipe of hers, her own tag differs
    assert nadia.get(url, headers={"If-None-Match": tag}).status_code == 200
    yves.get("/console")  # a page with the CSRF token to sign out with
    assert yves.post("/deconnexion").status_code == 302
    with statements() as seen:
        answer = yves.get(url, headers={"If-None-Match": tag})
    assert answer.status_code in (401, 302) and not any("community_versions" in s for s in seen[:1])
