"""Clinical text encrypted at rest: a column type that stores a Fernet token, written with DISPATCH_DATA_KEY and read
with it or with DISPATCH_DATA_KEY_OLD during a rotation (as GoAlert's keyring does), so a dump alone holds no clinical text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

EXTENSION = "dispatch.data_keys"
# Every Fernet token starts with its version byte 0x80 then a 64-bit timestamp whose high bytes are zero: "gAAAAA" in
# base64url. A stored value without it is plaintext written before encryption (an older release during an upgrade, or
# a migration run without the key): it reads as it is, and `dispatch data rotate-key` encrypts it.
TOKEN_PREFIX = "gAAAAA"


def keyring(config: Mapping[str, Any]) -> MultiFernet:
    """Return the keys of the settings: DISPATCH_DATA_KEY writes and reads, DISPATCH_DATA_KEY_OLD only reads."""
    keys = [str(config.get(name) or "").strip() for name in ("DISPATCH_DATA_KEY", "DISPATCH_DATA_KEY_OLD")]
    if not keys[0]:
        raise RuntimeError("DISPATCH_DATA_KEY is not set")  # settings.load generates it or production refuses to start
    return MultiFernet([Fernet(key) for key in keys if key])


def init_app(app: Flask) -> None:
    """Keep the app's keyring where its encrypted columns find it."""
    app.extensions[EXTENSION] = keyring(app.config)


def sealed(stored: str) -> bool:
    """Tell whether a stored value is a Fernet token rather than plaintext."""
    return stored.startswith(TOKEN_PREFIX)


def seal(text: str, ring: MultiFernet) -> str:
    """Return the token of `text` under the current key."""
    return ring.encrypt(text.encode("utf-8")).decode("ascii")


def unseal(stored: str, ring: MultiFernet) -> str:
    """Return the text of a stored value; raise InvalidToken when no key of the ring opens it."""
    if not sealed(stored):
        return stored
    return ring.decrypt(stored.encode("ascii")).decode("utf-8")


def resealed(stored: str, ring: MultiFernet, current: Fernet) -> str | None:
    """Return `stored` encrypted under the current key, or None when it already is."""
    if not sealed(stored):
        return seal(stored, ring)
    try:
        current.decrypt(stored.encode("ascii"))
        return None
    except InvalidToken:
        return ring.rotate(stored.encode("ascii")).decode("ascii")


class EncryptedText(TypeDecorator[str]):
    """Text stored as a Fernet token under the app's DISPATCH_DATA_KEY; None and "" (erased) are stored as they are."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if not value:
            return value  # type: ignore[no-any-return]
        return seal(str(value), current_app.extensions[EXTENSION])

    def process_result_value(self, value: Any, dialect: Any) -> str | None:
        if not value:
            return value  # type: ignore[no-any-return]
        return unseal(str(value), current_app.extensions[EXTENSION])
