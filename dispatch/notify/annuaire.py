"""The national health directory (Annuaire Santé, ANS) over its FHIR API: a physician's MSSanté mailbox by RPPS.

The request and the shapes read here are the ANS's, as its documentation of the "API FHIR Annuaire Santé" gives
them (github.com/ansforge/annuaire-sante-fhir-documentation, docs/pages/guide/version-2: resources/practitioner.md,
use-case/uc-bal-mss.md, use-case/full-call.md; the IG ansforge/IG-fhir-annuaire for the example resources):

- `GET {base}/Practitioner?identifier=...&_revinclude=PractitionerRole:practitioner`, base
  `https://gateway.api.esante.gouv.fr/fhir/v2` (v1 alike, deprecated), the key in the `ESANTE-API-KEY` header;
  the answer is a FHIR Bundle `searchset` holding the Practitioner and its PractitionerRoles (the situations
  where they practise).
- A Practitioner is identified by its RPPS (`https://rpps.esante.gouv.fr`, 11 digits) and by its IDNPS
  (`urn:oid:1.2.250.1.71.4.2.1`, "8" + RPPS); both are searched, one token each.
- Mailboxes are `telecom` entries (`system` email) on the Practitioner (personal and practice boxes) and on its
  PractitionerRoles (boxes tied to a structure). An MSSanté box carries the email-type extension with the code
  MSSANTE (TRE_R256-TypeMessagerie): `https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type`
  in v2, `.../ws-sync/exposed/structuredefinition/ContactPoint-EmailType` in v1; and, in v2, the extension
  `as-ext-mailbox-mss-metadata` whose `type` (TRE_R257-TypeBAL) says PER (personal), CAB (practice), ORG
  (organisational: a team or a service) or APP (applicative: a machine). Other addresses (an ordinary email)
  are not MSSanté boxes.

Which box, when there are several: a synthesis is about one patient of this GP, so it goes to the GP's own box
(PER) first, then the practice's (CAB), then an MSSanté box of unknown type, and an organisational box (ORG: read
by a team) last. An applicative box (APP) is a software's, never a person's: never chosen. On a tie the
Practitioner's box comes before a PractitionerRole's, then the lower `rank`, then the directory's order.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import requests

from dispatch.notify.ports import Outcome
from dispatch.notify.retry_after import parse_retry_after, with_retry_after

log = logging.getLogger(__name__)

RPPS_SYSTEM = "https://rpps.esante.gouv.fr"
IDNPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"  # "8" + RPPS for a physician registered in the RPPS
EMAIL_TYPE_URLS = frozenset(
    {
        "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type",  # API v2 (FR Core)
        "https://apifhir.annuaire.sante.fr/ws-sync/exposed/structuredefinition/ContactPoint-EmailType",  # API v1
        "http://interopsante.org/fhir/StructureDefinition/FrContactPointEmailType",  # FR Core before 2.0
    }
)
MAILBOX_URLS = frozenset(
    {
        "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-mailbox-mss-metadata",  # v2
        "https://annuaire.sante.gouv.fr/fhir/StructureDefinition/MailboxMSS",  # v1
    }
)
MSSANTE_CODE = "MSSANTE"
# The kinds of MSSanté box, best first (None: an MSSanté box the directory gives no type for). APP is left out.
PREFERENCE: dict[str | None, int] = {"PER": 0, "CAB": 1, None: 2, "ORG": 3}
_PERMANENT_STATUSES = {400, 401, 403, 404, 405, 410}
MAX_ANSWER_BYTES = 2 * 1024 * 1024  # a Practitioner with its situations is a few kB; a directory never sends this much
# One address, as plainly as a mailbox is written: no display name, no list, no quotes, no comment.
_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def one_address(value: object) -> str | None:
    """Return the value when it is exactly one mail address (at most 254 characters), else None ('a@x, b@y' is none)."""
    if not isinstance(value, str):
        return None
    address = value.strip()
    if len(address) > 254 or _ADDRESS.fullmatch(address) is None:
        return None
    return address


@dataclass(frozen=True)
class Mailbox:
    """An MSSanté mailbox the directory gives for a physician, and its kind (PER, CAB, ORG or None)."""

    address: str
    kind: str | None = None


@dataclass(frozen=True)
class LookupResult:
    """What the directory said: SENT when it answered (with the best box, or None: no MSSanté box), else why not."""

    outcome: Outcome
    mailbox: Mailbox | None = None
    detail: str = ""


class DirectoryPort(Protocol):
    def find_mailbox(self, rpps: str) -> LookupResult:
        """Return the best MSSanté mailbox of the physician with this RPPS."""
        ...


def search_params(rpps: str) -> dict[str, str]:
    """Return the query of the search: the Practitioner by RPPS or IDNPS, with its PractitionerRoles."""
    return {
        "identifier": f"{RPPS_SYSTEM}|{rpps},{IDNPS_SYSTEM}|8{rpps}",
        "_revinclude": "PractitionerRole:practitioner",
    }


def _extension(element: Mapping[str, Any], urls: frozenset[str]) -> Mapping[str, Any] | None:
    for extension in element.get("extension") or ():
        if isinstance(extension, Mapping) and extension.get("url") in urls:
            return extension
    return None


def _box_kind(telecom: Mapping[str, Any]) -> tuple[bool, str | None]:
    """Say whether a telecom is an MSSanté box, and of which kind (from its mailbox metadata), if it says."""
    email_type = _extension(telecom, EMAIL_TYPE_URLS)
    coding = email_type.get("valueCoding") if email_type else None
    typed_mss = isinstance(coding, Mapping) and coding.get("code") == MSSANTE_CODE
    metadata = _extension(telecom, MAILBOX_URLS)
    kind = None
    for sub in (metadata or {}).get("extension") or ():
        if isinstance(sub, Mapping) and sub.get("url") == "type":
            codings = (sub.get("valueCodeableConcept") or {}).get("coding") or ()
            kind = next((c.get("code") for c in codings if isinstance(c, Mapping) and c.get("code")), None)
    value = str(telecom.get("value") or "")
    domain = value.rpartition("@")[2].lower()
    in_space = domain == "mssante.fr" or domain.endswith(".mssante.fr")
    return (typed_mss or metadata is not None or in_space), kind


def _identifies(practitioner: Mapping[str, Any], rpps: str) -> bool:
    """Tell whether a Practitioner is the one searched for (an answer without identifiers is taken as such)."""
    identifiers = [i for i in practitioner.get("identifier") or () if isinstance(i, Mapping)]
    return not identifiers or any(str(i.get("value")) in (rpps, f"8{rpps}") for i in identifiers)


def best_mailbox(bundle: Mapping[str, Any], rpps: str) -> Mailbox | None:
    """Return the physician's best MSSanté box in a searchset Bundle, or None when it holds none."""
    entries = [e.get("resource") for e in bundle.get("entry") or () if isinstance(e, Mapping)]
    resources: list[Mapping[str, Any]] = [r for r in entries if isinstance(r, Mapping) and r.get("active") is not False]
    practitioners = {str(r.get("id")): r for r in resources if r.get("resourceType") == "Practitioner" and _identifies(r, rpps)}
    candidates: list[tuple[tuple[int, int, int, int], Mailbox]] = []
    order = 0
    for resource in resources:
        kind_of = resource.get("resourceType")
        if kind_of == "Practitioner" and str(resource.get("id")) not in practitioners:
            continue
        if kind_of == "PractitionerRole":
            reference = str((resource.get("practitioner") or {}).get("reference") or "")
            if reference.rpartition("/")[2] not in practitioners:
                continue  # another physician's situation
        elif kind_of != "Practitioner":
            continue
        for telecom in resource.get("telecom") or ():
            if not isinstance(telecom, Mapping) or telecom.get("system") != "email":
                continue
            address = one_address(telecom.get("value"))
            if address is None:  # not one plain address ("a@x, b@y", a display name...): never a recipient
                continue
            is_mss, kind = _box_kind(telecom)
            if not is_mss or kind not in PREFERENCE:
                continue
            given_rank = telecom.get("rank")
            rank = given_rank if isinstance(given_rank, int) else 1 << 30
            key = (PREFERENCE[kind], 0 if kind_of == "Practitioner" else 1, rank, order)
            candidates.append((key, Mailbox(address, kind)))
            order += 1
    return min(candidates, key=lambda candidate: candidate[0])[1] if candidates else None


class AnnuaireSante:
    """DirectoryPort over the ANS FHIR API (or any server speaking it: the tests' peer)."""

    def __init__(self, base_url: str, api_key: str, *, clock: Callable[[], datetime], timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.clock = clock  # what a Retry-After HTTP-date is measured from
        self.session = requests.Session()
        self.session.headers.update({"ESANTE-API-KEY": api_key, "Accept": "application/fhir+json"})

    @classmethod
    def from_config(cls, config: Mapping[str, Any], *, clock: Callable[[], datetime]) -> AnnuaireSante | None:
        """Build the adapter from DISPATCH_ANNUAIRE_URL and DISPATCH_ANNUAIRE_API_KEY; None (no lookup) when unset."""
        url = str(config.get("DISPATCH_ANNUAIRE_URL") or "").strip()
        if not url:
            return None
        key = str(config.get("DISPATCH_ANNUAIRE_API_KEY") or "").strip()
        if not key:
            raise ValueError("DISPATCH_ANNUAIRE_URL needs DISPATCH_ANNUAIRE_API_KEY (the ESANTE-API-KEY of the platform)")
        if not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ValueError(f"DISPATCH_ANNUAIRE_URL={url!r}: an https:// address is expected (the API key travels with it)")
        return cls(url, key, clock=clock, timeout=float(config.get("DISPATCH_ANNUAIRE_TIMEOUT") or 10.0))

    def find_mailbox(self, rpps: str) -> LookupResult:
        """Search the directory for the physician with this RPPS and return their best MSSanté box."""
        try:
            response = self.session.get(
                f"{self.base_url}/Practitioner",
                params=search_params(rpps),
                timeout=self.timeout,
                allow_redirects=False,  # a redirect is answered as what it is (a 3xx: the settings are wrong)
                stream=True,  # the body is read up to MAX_ANSWER_BYTES, never whole
            )
        except requests.RequestException as exc:
            return LookupResult(Outcome.TRANSIENT, detail=f"annuaire unreachable: {type(exc).__name__}")
        with response:
            return self._read(response, rpps)

    def _read(self, response: requests.Response, rpps: str) -> LookupResult:
        """Classify the directory's answer, its body read up to the size cap."""
        status = response.status_code
        if status == 429 or status >= 500:
            wait = parse_retry_after(response.headers.get("Retry-After"), self.clock())
            return LookupResult(Outcome.TRANSIENT, detail=with_retry_after(f"annuaire answered {status}", wait))
        if status in _PERMANENT_STATUSES or status >= 300:
            # A refused key or a wrong base URL: no retry helps until someone changes the settings.
            log.warning("the Annuaire Santé refused the lookup: HTTP %s (check DISPATCH_ANNUAIRE_URL and the API key)", status)
            return LookupResult(Outcome.PERMANENT, detail=f"annuaire answered {status}")
        try:
            body = _bounded_body(response)
        except requests.RequestException as exc:
            return LookupResult(Outcome.TRANSIENT, detail=f"annuaire unreachable: {type(exc).__name__}")
        if body is None:
            log.warning("the Annuaire Santé answered more than %s bytes: not read", MAX_ANSWER_BYTES)
            return LookupResult(Outcome.TRANSIENT, detail=f"annuaire answered more than {MAX_ANSWER_BYTES} bytes")
        try:
            bundle = json.loads(body)
        except ValueError:
            return LookupResult(Outcome.TRANSIENT, detail="annuaire answered something that is not JSON")
        if not isinstance(bundle, Mapping) or bundle.get("resourceType") != "Bundle":
            return LookupResult(Outcome.TRANSIENT, detail="annuaire answered something that is not a Bundle")
        return LookupResult(Outcome.SENT, mailbox=best_mailbox(bundle, rpps))

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()


def _bounded_body(response: requests.Response) -> bytes | None:
    """Return the answer's body, or None when it is (or says it is) larger than MAX_ANSWER_BYTES."""
    announced = response.headers.get("Content-Length", "")
    if announced.strip().isdigit() and int(announced) > MAX_ANSWER_BYTES:
        return None
    body = bytearray()
    for chunk in response.iter_content(chunk_size=64 * 1024):
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            return None
    return bytes(body)
