"""The VAPID key (RFC 8292) that signs Web Push messages: configured, or generated once into the instance folder."""

from __future__ import annotations

import base64
import contextlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

KEY_FILE = "vapid_private.pem"
_B64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


@dataclass(frozen=True)
class VapidKey:
    """The application server's P-256 key pair that signs every push (RFC 8292)."""

    private_key: ec.EllipticCurvePrivateKey

    @property
    def public_key_b64url(self) -> str:
        """Return the uncompressed public point, base64url without padding (`GET /webpush/key`)."""
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)

    def private_pem(self) -> bytes:
        """Return the private key as PKCS#8 PEM."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def load_or_create_vapid_key(config_value: str | None, instance_path: Path) -> VapidKey:
    """Return the configured VAPID key (PEM path or raw base64url), or the one kept in the instance folder."""
    value = (config_value or "").strip()
    if value:
        if _B64URL.match(value) and not Path(value).is_file():
            return _key_from_b64url(value)
        return _key_from_pem(Path(value).read_bytes(), value)
    path = instance_path / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    return _key_from_pem(path.read_bytes(), str(path))


def _create_key_file(path: Path) -> None:
    """Write a new key readable by its owner only; a concurrent first run keeps whichever key landed first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = VapidKey(ec.generate_private_key(ec.SECP256R1())).private_pem()
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".vapid-")  # mode 0600
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(pem)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)  # atomic, and never replaces a key another process just wrote
    finally:
        os.unlink(temporary)


def _key_from_pem(data: bytes, source: str) -> VapidKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"VAPID key {source} is not a P-256 private key")
    return VapidKey(key)


def _key_from_b64url(value: str) -> VapidKey:
    raw = b64url_decode(value)
    if len(raw) == 32:  # the raw private scalar, as `vapid --gen` and most tools print it
        return VapidKey(ec.derive_private_key(int.from_bytes(raw, "big"), ec.SECP256R1()))
    key = serialization.load_der_private_key(raw, password=None)  # or a base64url DER key
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("DISPATCH_VAPID_PRIVATE_KEY is not a P-256 private key")
    return VapidKey(key)


def b64url(data: bytes) -> str:
    """Encode bytes as base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(value: str) -> bytes:
    """Decode base64url, padded or not; raise ValueError on anything else."""
    if not _B64URL.match(value):
        raise ValueError("not base64url")
    stripped = value.rstrip("=")
    return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
