"""The VAPID key (RFC 8292) that signs Web Push messages: configured, or generated once into the instance folder."""

from __future__ import annotations

import base64
import contextlib
import functools
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02, b64urlencode

from config import settings

KEY_FILE = "vapid_private.pem"
_B64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
# The private key's block of a PEM file; `openssl ecparam -genkey` writes an "EC PARAMETERS" block before it.
_PEM_KEY = re.compile(rb"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.+?-----END \1PRIVATE KEY-----", re.S)


@dataclass(frozen=True)
class VapidKey:
    """The application server's P-256 key pair that signs every push (RFC 8292)."""

    private_key: ec.EllipticCurvePrivateKey

    @functools.cached_property
    def vapid(self) -> Vapid02:
        """Return the key as py_vapid's RFC 8292 signer."""
        return Vapid02(self.private_key)

    @property
    def public_key_b64url(self) -> str:
        """Return the uncompressed public point, base64url without padding (`GET /webpush/key`)."""
        point = self.vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return str(b64urlencode(point))

    def private_pem(self) -> bytes:
        """Return the private key as PKCS#8 PEM."""
        return bytes(self.vapid.private_pem())


def load_or_create_vapid_key(config_value: str | None, instance_path: Path, *, create: bool = True) -> VapidKey:
    """Return the configured VAPID key (PEM path, PEM text or raw base64url), or the one kept in the instance folder
    (created on first run when `create`: development only)."""
    value = (config_value or "").strip()
    if value:
        if value.startswith("-----BEGIN"):  # the key itself, as DISPATCH_VAPID_PRIVATE_KEY_FILE gives it
            return _key_from_pem(value.encode(), "DISPATCH_VAPID_PRIVATE_KEY")
        if _B64URL.match(value) and not Path(value).is_file():
            return _key_from_b64url(value)
        return _key_from_pem(Path(value).read_bytes(), value)
    path = instance_path / KEY_FILE
    if not path.exists():
        if not create:
            raise ValueError("DISPATCH_VAPID_PRIVATE_KEY is required in production (no key is generated)")
        _create_key_file(path)
    return _key_from_pem(path.read_bytes(), str(path))


def _create_key_file(path: Path) -> None:
    """Write a new key readable by its owner only; a concurrent first run keeps whichever key landed first."""
    settings.private_folder(path.parent)
    vapid = Vapid02()
    vapid.generate_keys()
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".vapid-")  # mode 0600
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(vapid.private_pem())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)  # atomic, and never replaces a key another process just wrote
    finally:
        os.unlink(temporary)


def _p256(vapid: Vapid02, source: str) -> VapidKey:
    key = vapid.private_key
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"VAPID key {source} is not a P-256 private key")
    return VapidKey(key)


def _key_from_pem(data: bytes, source: str) -> VapidKey:
    block = _PEM_KEY.search(data)
    if block is None:
        raise ValueError(f"VAPID key {source} holds no PEM private key")
    return _p256(Vapid02.from_pem(block.group(0)), source)


def _key_from_b64url(value: str) -> VapidKey:
    """Read the raw private scalar (32 bytes, as `vapid --gen` and most tools print it) or a DER key, in base64url."""
    return _p256(Vapid02.from_string(value.rstrip("=")), "DISPATCH_VAPID_PRIVATE_KEY")


def b64url(data: bytes) -> str:
    """Encode bytes as base64url without padding."""
    return str(b64urlencode(data))


def b64url_decode(value: str) -> bytes:
    """Decode base64url, padded or not; raise ValueError on anything else."""
    if not _B64URL.match(value):
        raise ValueError("not base64url")
    stripped = value.rstrip("=")
    return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
