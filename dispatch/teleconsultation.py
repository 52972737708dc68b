"""Teleconsultation links: which hosts a community allows, and whether a physician's link is on one of them.

Pure: no Flask, no database. The product hosts no video; it only passes the accepting physician's link to the requester
and the patient, whose browsers open it. So a link is accepted only when it is plain enough that every parser reads
the same host (a browser's WHATWG parser as much as Python's): `https`, an ASCII host of letters, digits, dots and
hyphens, no user-info, no backslash, no percent-encoding or space before the path, no port but 443.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MAX_URL = 500
MAX_HOSTS = 20
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST = re.compile(rf"^{_LABEL}(\.{_LABEL})+$")
_ALLOWED_ENTRY = re.compile(rf"^\.?{_LABEL}(\.{_LABEL})+$")
# RFC 3986's unreserved, sub-delims, ":", "@", "/", "?", "#" and percent-encoding: what may follow the authority.
_REST = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=:@/?#%]*$")


def host_entry_problem(entry: str) -> str | None:
    """Return why a community's allowed host (`visio.example.fr`, or `.example.fr` for its subdomains) is refused."""
    if not isinstance(entry, str) or not _ALLOWED_ENTRY.match(entry) or len(entry) > 253:
        return f"Hôte invalide\u00a0: {entry!s:.60} (un nom d'hôte, ou .domaine pour ses sous-domaines)."
    return None


def normalize_hosts(entries: list[str]) -> list[str]:
    """Return a community's allowed hosts lowercased, without duplicates, in their order."""
    seen: list[str] = []
    for entry in entries:
        value = entry.strip().lower().rstrip(".")
        if value not in seen:
            seen.append(value)
    return seen


def link_host(url: str) -> str | None:
    """Return the host of a teleconsultation link if it is a plain `https` link (see the module), else None."""
    if not isinstance(url, str) or not 0 < len(url) <= MAX_URL or not url.isascii() or "\\" in url:
        return None
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return None
    scheme, sep, rest = url.partition("://")
    if scheme.lower() != "https" or not sep:
        return None
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    tail = rest[len(authority) :]
    if not authority or "@" in authority or "%" in authority or not _REST.match(tail):
        return None
    host, colon, port = authority.lower().partition(":")
    if colon and port != "443":
        return None
    if not _HOST.match(host):
        return None
    try:  # Python's own reading must agree on the host and port
        parts = urlsplit(url)
        if (parts.hostname or "") != host or parts.username is not None or parts.port not in (None, 443):
            return None
    except ValueError:
        return None
    return host


def allowed(host: str, hosts: list[str] | None) -> bool:
    """Tell whether `host` is one of the community's allowed hosts (a leading dot matches its subdomains)."""
    for entry in hosts or ():
        entry = entry.lower()
        if entry.startswith(".") and host.endswith(entry) and len(host) > len(entry):
            return True
        if entry == host:
            return True
    return False


def link_problem(url: str | None, hosts: list[str] | None) -> str | None:
    """Return why a physician's teleconsultation link is refused (French), or None when it may be given."""
    if not url:
        return "Pour une téléconsultation, indiquez le lien de votre outil de téléconsultation."
    host = link_host(url)
    if host is None:
        return "Lien invalide\u00a0: une adresse https:// simple (ni identifiant, ni port autre que 443) est attendue."
    if not allowed(host, hosts):
        return f"L'hôte {host} n'est pas autorisé par la communauté pour la téléconsultation."
    return None
