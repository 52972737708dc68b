"""A live page's poll answered 304 before its session is looked up, when its last full answer is a few seconds old.

A visible phone page or console polls once a second (dispatch.pages.live) and nearly always finds nothing moved.
The full answer costs the session's lookup (the user, their memberships), the policy, and one read of the change
counters; the tag it sends (an ETag) is made of ids and counters only. This process remembers, for each session and
poll address, how that tag is made (`Recipe`: which communities' counters, and the function of them), for
`FRESH_S` seconds after a full answer. A poll that sends the tag back within that time is answered from one read of
the counters: 304 with no body if they have not moved, else the full answer as before.

What a 304 tells: "nothing you were shown has moved". A session signed out or revoked in the meantime still gets
that for at most `FRESH_S` seconds, and nothing else: any change, and any poll after that time, goes through the
full answer, its session lookup and its policy. The memory is per process and bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from flask import Response

FRESH_S = 5.0  # how long after a full answer a poll may be answered 304 from the counters alone
MAX_ENTRIES = 50_000  # about 5 MB; past it, the expired entries go (and all of them if none had)


class Recipe(NamedTuple):
    """How a live answer's tag is made: from these communities' counters (sorted by id) and the time."""

    communities: tuple[int, ...]
    tag: Callable[[dict[int, int], datetime], str]


_RECIPES: dict[tuple[str, str], tuple[float, Recipe]] = {}


def remember(sid: str, address: str, recipe: Recipe) -> None:
    """Note how the tag of the full answer just given to this session at this address is made."""
    if len(_RECIPES) >= MAX_ENTRIES:
        _prune(time.monotonic())
    _RECIPES[(sid, address)] = (time.monotonic() + FRESH_S, recipe)


def recipe_for(sid: str, address: str) -> Recipe | None:
    """Return the recipe of this session's last full answer at this address, if it was given less than FRESH_S ago."""
    entry = _RECIPES.get((sid, address))
    if entry is None or entry[0] < time.monotonic():
        return None
    return entry[1]


def not_modified(tag: str) -> Response:
    """Return the 304 of a poll whose tag still holds."""
    response = Response(status=304)
    response.set_etag(tag)
    return response


def forget_session(sid: str) -> None:
    """Forget a session's recipes (it signed out here)."""
    for key in [key for key in _RECIPES if key[0] == sid]:
        del _RECIPES[key]


def _prune(at: float) -> None:
    expired = [key for key, (until, _) in _RECIPES.items() if until < at]
    for key in expired or list(_RECIPES):
        del _RECIPES[key]
