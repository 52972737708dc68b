"""Local peer of the ANS "API FHIR Annuaire Santé" (v2): Practitioner search by identifier with _revinclude.

It answers as the ANS documents its API (github.com/ansforge/annuaire-sante-fhir-documentation, guide v2): the
`ESANTE-API-KEY` header is required (401 otherwise), `GET /fhir/v2/Practitioner?identifier=...` takes FHIR tokens
(`system|value` or a bare value, comma-separated for OR) and answers a Bundle `searchset` whose entries are the
matching Practitioners (`search.mode` match) and, with `_revinclude=PractitionerRole:practitioner`, their
PractitionerRoles (`search.mode` include). Mailboxes are built as the ANS examples show them: the FR Core
email-type extension (code MSSANTE) and the `as-ext-mailbox-mss-metadata` extension with the box's type.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.peers._http import JsonHandler, LoopbackPeer

API_KEY_HEADER = "ESANTE-API-KEY"
BASE_PATH = "/fhir/v2"
RPPS_SYSTEM = "https://rpps.esante.gouv.fr"
IDNPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
EMAIL_TYPE = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type"
MESSAGING_TYPES = "https://mos.esante.gouv.fr/NOS/TRE_R256-TypeMessagerie/FHIR/TRE-R256-TypeMessagerie"
MAILBOX_METADATA = "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-mailbox-mss-metadata"
BOX_TYPES = "https://mos.esante.gouv.fr/NOS/TRE_R257-TypeBAL/FHIR/TRE-R257-TypeBAL"
ID_TYPES = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
_ids = itertools.count(3014698)


def mss_box(address: str, kind: str | None = "PER", *, rank: int | None = None) -> dict[str, Any]:
    """Return an MSSanté mailbox as a telecom of the directory (kind PER, CAB, ORG, APP, or None: untyped)."""
    extensions: list[dict[str, Any]] = [
        {"url": EMAIL_TYPE, "valueCoding": {"system": MESSAGING_TYPES, "code": "MSSANTE"}},
    ]
    if kind is not None:
        extensions.append(
            {
                "url": MAILBOX_METADATA,
                "extension": [
                    {"url": "type", "valueCodeableConcept": {"coding": [{"system": BOX_TYPES, "code": kind}]}},
                    {"url": "digitization", "valueBoolean": True},
                ],
            }
        )
    telecom: dict[str, Any] = {"extension": extensions, "system": "email", "value": address}
    if rank is not None:
        telecom["rank"] = rank
    return telecom


def plain_email(address: str) -> dict[str, Any]:
    """Return an ordinary email address (not an MSSanté box) as the directory lists it."""
    return {"system": "email", "value": address}


def practitioner(rpps: str, family: str, given: str, telecom: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Return a Practitioner shaped like the directory's (profiles, IDNPS and RPPS identifiers, name, mailboxes)."""
    technical = f"003-{next(_ids)}-{next(_ids)}"
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": technical,
        "meta": {
            "versionId": "1",
            "lastUpdated": "2026-10-28T18:19:26.335+02:00",
            "source": "https://annuaire.sante.fr",
            "profile": [
                "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-practitioner",
                "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-dp-practitioner",
            ],
        },
        "language": "fr",
        "identifier": [
            {
                "use": "official",
                "type": {"coding": [{"system": ID_TYPES, "code": "IDNPS"}]},
                "system": IDNPS_SYSTEM,
                "value": f"8{rpps}",
            },
            {"use": "official", "type": {"coding": [{"system": ID_TYPES, "code": "RPPS"}]}, "system": RPPS_SYSTEM, "value": rpps},
        ],
        "active": True,
        "name": [{"use": "usual", "family": family, "given": [given], "suffix": ["DR"]}],
    }
    if telecom:
        resource["telecom"] = telecom
    return resource


def practitioner_role(of: dict[str, Any], telecom: list[dict[str, Any]] | None = None, *, active: bool = True) -> dict[str, Any]:
    """Return a PractitionerRole (a situation of practice) of a Practitioner, with the structure's mailboxes."""
    resource: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": f"005-{next(_ids)}-{next(_ids)}",
        "meta": {"source": "https://annuaire.sante.fr"},
        "active": active,
        "practitioner": {"reference": f"Practitioner/{of['id']}"},
        "organization": {"reference": f"Organization/001-{next(_ids)}"},
        "code": [
            {
                "coding": [
                    {"system": "https://mos.esante.gouv.fr/NOS/TRE_R22-GenreActivite/FHIR/TRE-R22-GenreActivite", "code": "GENR01"}
                ]
            }
        ],
    }
    if telecom:
        resource["telecom"] = telecom
    return resource


@dataclass
class Search:
    """One search the peer answered: its query and whether the API key was right."""

    params: dict[str, list[str]]
    key_ok: bool


@dataclass
class _State:
    api_key: str
    practitioners: list[dict[str, Any]] = field(default_factory=list)
    roles: list[dict[str, Any]] = field(default_factory=list)
    searches: list[Search] = field(default_factory=list)
    # Scripted answers taken first, one per search: (status, headers); the directory's own answer after them.
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    # Raw answers taken before anything else, one per search: (status, headers, body bytes as sent).
    raw: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)


def _matches(resource: dict[str, Any], tokens: list[str]) -> bool:
    """Apply FHIR token search on identifier: any token, `system|value` or a bare value."""
    for token in tokens:
        system, bar, value = token.rpartition("|")
        for identifier in resource.get("identifier") or ():
            if identifier.get("value") == value and (not bar or identifier.get("system") == system):
                return True
    return False


class _Handler(JsonHandler):
    def do_GET(self) -> None:  # noqa: N802
        peer: AnnuairePeer = self.server.peer
        state = peer.state
        parts = urlsplit(self.path)
        params = parse_qs(parts.query)
        key_ok = self.headers.get(API_KEY_HEADER) == state.api_key
        with peer.lock:
            state.searches.append(Search(params, key_ok))
            raw = state.raw.pop(0) if state.raw else None
            scripted = state.script.pop(0) if state.script and raw is None else None
        if raw is not None:
            status, headers, body = raw
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if not key_ok:
            self.reply(401, _outcome("security", "Clé d'API absente ou invalide"), "application/fhir+json")
            return
        if scripted is not None:
            status, headers = scripted
            self.reply(status, _outcome("transient", "Service momentanément indisponible"), "application/fhir+json", headers)
            return
        if parts.path != f"{BASE_PATH}/Practitioner":
            self.reply(404, _outcome("not-found", "Ressource inconnue"), "application/fhir+json")
            return
        tokens = [token for value in params.get("identifier", []) for token in value.split(",")]
        with peer.lock:
            found = [p for p in state.practitioners if tokens and _matches(p, tokens)]
            roles = []
            if "PractitionerRole:practitioner" in params.get("_revinclude", []):
                ids = {f"Practitioner/{p['id']}" for p in found}
                roles = [r for r in state.roles if r["practitioner"]["reference"] in ids]
        base = f"http://{self.headers.get('Host')}{BASE_PATH}"
        bundle = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "meta": {"lastUpdated": "2026-11-23T15:00:00.000+01:00"},
            "type": "searchset",
            "total": len(found),
            "link": [{"relation": "self", "url": f"{base}/Practitioner?{parts.query}"}],
            "entry": [
                {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": mode}}
                for mode, group in (("match", found), ("include", roles))
                for r in group
            ],
        }
        self.reply(200, bundle, "application/fhir+json;charset=UTF-8")


def _outcome(code: str, text: str) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": text}]}


class AnnuairePeer(LoopbackPeer):
    """The directory on loopback: add practitioners and roles, read the searches it answered."""

    handler = _Handler

    def __init__(self, api_key: str = "test-esante-api-key") -> None:
        super().__init__()
        self.state = _State(api_key=api_key)

    @property
    def base_url(self) -> str:
        """Return the API's base URL, as DISPATCH_ANNUAIRE_URL takes it."""
        return f"{self.url}{BASE_PATH}"

    def add(self, resource: dict[str, Any], *roles: dict[str, Any]) -> dict[str, Any]:
        """Publish a Practitioner and its PractitionerRoles; return the Practitioner."""
        with self.lock:
            self.state.practitioners.append(resource)
            self.state.roles.extend(roles)
        return resource

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next `times` searches with `status` (and a Retry-After, if given)."""
        headers = {"Retry-After": retry_after} if retry_after else {}
        with self.lock:
            self.state.script.extend([(status, headers)] * times)

    def answer_next(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """Answer the next search with exactly these bytes (a redirect, an oversized or a lying answer)."""
        with self.lock:
            self.state.raw.append((status, headers or {}, body))

    @property
    def searches(self) -> list[Search]:
        with self.lock:
            return list(self.state.searches)
