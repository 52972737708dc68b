"""The MSSanté application mailboxes the platform speaks from: the installation's, and one per community that has its
own; each presents its own certificate, <DISPATCH_MSSANTE_CERTS_DIR>/<address>.crt and .key."""

from __future__ import annotations

import re
from pathlib import Path

# A mailbox address that is also a plain file name (its certificate is "<address>.crt"): no slash, no leading dot.
MSSANTE_FROM = re.compile(r"[a-z0-9][a-z0-9._+-]{0,63}@[a-z0-9-]+(?:\.[a-z0-9-]+)+")


def certificate_paths(certs_dir: str | Path, address: str) -> tuple[Path, Path]:
    """Return where a mailbox's certificate and key lie: <DISPATCH_MSSANTE_CERTS_DIR>/<address>.crt and .key."""
    if not MSSANTE_FROM.fullmatch(address):  # never a path of the caller's choosing
        raise ValueError(f"not a mailbox address: {address!r}")
    folder = Path(certs_dir)
    return folder / f"{address}.crt", folder / f"{address}.key"
