"""A request's history in French words: every event type the code can record has its own, none shows as a code."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from dispatch.pages import history
from dispatch.requests import machine
from dispatch.requests.states import EventType

ROOT = Path(__file__).resolve().parents[2] / "dispatch"
# The outcomes the outbox sender reports for a message of a request (notify.service._after, delivery.trail).
DELIVERY_OUTCOMES = ("sent", "failed", "undelivered", "expired")


def _sources() -> list[tuple[Path, ast.AST]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in ROOT.rglob("*.py") if "migrations" not in path.parts]


def _event_type(node: ast.AST) -> str | None:
    """Return the value of an `EventType.X` (or `E.X`) expression, else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Attribute) and _name(node.value) in ("EventType", "E"):
        return EventType[node.attr].value
    return None


def _name(node: ast.AST) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def recorded_types() -> tuple[set[str], list[str]]:
    """Return the event types written as constants (EventSpec, record_event, opening notes), and the dynamic ones."""
    constant: set[str] = set()
    dynamic: list[str] = []
    for path, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) == "EventSpec" and node.args:
                first = node.args[0]
                if _event_type(first) is not None:
                    constant.add(str(_event_type(first)))
                else:
                    dynamic.append(f"{path.name}:{ast.unparse(first)}")
            if isinstance(node, ast.Call) and _name(node.func) == "record_event":
                for keyword in node.keywords:
                    if keyword.arg != "type":
                        continue
                    if _event_type(keyword.value) is not None:
                        constant.add(str(_event_type(keyword.value)))
                    elif ast.unparse(keyword.value) != "spec.type" and ast.unparse(keyword.value) != "type_":
                        dynamic.append(f"{path.name}:{ast.unparse(keyword.value)}")
            # The opening's own events: notes=(("type", {...}),) or notes = (("type", {...}),)
            keyword = isinstance(node, ast.keyword) and node.arg == "notes"
            assigned = isinstance(node, ast.Assign) and any(_name(t) == "notes" for t in node.targets)
            value = node.value if keyword or assigned else None  # type: ignore[attr-defined]
            if isinstance(value, ast.Tuple):
                for element in value.elts:
                    if isinstance(element, ast.Tuple) and element.elts and _event_type(element.elts[0]) is not None:
                        constant.add(str(_event_type(element.elts[0])))
    return constant, dynamic


def message_kinds() -> set[str]:
    """Return every outbox message kind the code enqueues: calls and rows with a `channel` and a `kind`."""
    kinds: set[str] = set()
    for _, tree in _sources():
        for node in ast.walk(tree):
            # enqueue(channel=..., kind=...), and messages._text(request, kind=...), which queues an SMS with its kind
            if isinstance(node, ast.Call) and (any(k.arg == "channel" for k in node.keywords) or _name(node.func) == "_text"):
                kinds.update(k.value.value for k in node.keywords if k.arg == "kind" and isinstance(k.value, ast.Constant))
            if isinstance(node, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "channel" for k in node.keys):
                for key, value in zip(node.keys, node.values, strict=True):
                    if isinstance(key, ast.Constant) and key.value == "kind" and isinstance(value, ast.Constant):
                        kinds.add(value.value)
            # kind, key = "released_operator", f"..." (the value a later enqueue(channel=..., kind=kind) sends)
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple) and isinstance(node.value, ast.Tuple):
                for target, value in zip(node.targets[0].elts, node.value.elts, strict=False):
                    if _name(target) == "kind" and isinstance(value, ast.Constant):
                        kinds.add(value.value)
    return kinds | {f"{k}_sms" for k in kinds}  # a push nobody can receive falls back to an SMS of kind <kind>_sms


def test_every_event_type_the_code_records_has_french_words() -> None:
    constant, dynamic = recorded_types()
    # The machine's outcome events (EventSpec(outcome, ...)) and the sender's "<kind>_<outcome>" are the only types
    # not written as constants: a new dynamic one must be added here, with what it can be.
    assert set(dynamic) == {
        "visit.py:outcome",
        "delivery.py:f'{message.kind}_{outcome}'",
        "delivery.py:f'{message.kind}_failed'",
        "delivery.py:f'{message.kind}_undelivered'",
        "delivery.py:f'{message.kind}_expired'",
    }, dynamic
    assert constant <= {t.value for t in EventType}, "a request's own event type is a member of states.EventType"
    types = constant | set(machine.OUTCOMES) | {t.value for t in EventType}
    types |= {f"{kind}_{outcome}" for kind in message_kinds() for outcome in DELIVERY_OUTCOMES}
    assert {"opened", "accepted", "released", "called_back", "relaunched", "relaunch_of", "treating_address_changed"} <= types
    assert {"patient_appointment_undelivered", "synthesis_failed", "offer_sms_failed", "expired_operator_failed"} <= types
    missing = sorted(t for t in types if not history.known(t))
    assert missing == [], f"event types without French words in dispatch/pages/history.py: {missing}"


def test_the_sender_records_message_kind_and_outcome() -> None:
    """The delivery events are `<kind>_<outcome>`: the test above covers them only while this stays so."""
    source = (ROOT / "delivery.py").read_text(encoding="utf-8")
    assert set(re.findall(r'type=f"\{message\.kind\}_([a-z{}]+)"', source)) == {"{outcome}", "failed", "undelivered", "expired"}


@pytest.mark.parametrize("code", ["mystery_step", "synthesis_teleported", "x"])
def test_an_unknown_type_reads_as_french_never_as_its_code(code: str) -> None:
    described = history.describe(code, {"reason": "because"}, "Europe/Paris")
    assert described["label"] == "Étape du suivi de la demande" and code not in described["label"]
    assert not history.known(code)


@pytest.mark.parametrize(
    ("type_", "data", "label", "detail"),
    [
        ("opened", {"state": "exclusive", "exclusive_until": "2026-11-23T15:00:00Z", "expires_at": "2026-11-23T16:00:00Z"},
         "Demande ouverte", "Proposée d'abord au médecin traitant seul, jusqu'à 16:00."),
        ("community_opened", {"after": "treating_refused"}, "Proposée à toute la communauté", "Le médecin traitant a refusé"),
        ("community_opened", {"after": "treating_unavailable"}, "Proposée à toute la communauté",
         "Le compte du médecin traitant a été désactivé"),
        ("offer_withdrawn", {"physician_id": 3, "reason": "unavailable"}, "Proposition retirée à un médecin",
         "Son compte a été désactivé\u00a0: la demande reste proposée aux autres médecins."),
        ("patient_birth_date_completed", {}, "Date de naissance du patient complétée par le médecin", "Elle manquait"),
        ("accepted", {"appointment_at": "2026-11-23T15:30:00Z", "place": "Cabinet", "phase": "community"}, "Acceptée",
         "Rendez-vous le 23/11 à 16:30, Cabinet."),
        ("called_back", {"result": "reoriented_sas", "note": "Vu au SAS"}, "Patient rappelé",
         "Résultat\u00a0: réorienté vers le SAS."),
        ("released", {"reason": "Urgence", "expires_at": "2026-11-23T16:20:00Z"}, "Le médecin s'est désisté",
         "Motif\u00a0: Urgence"),
        ("patient_appointment_failed", {"reason": "not_mobile"}, "SMS de rendez-vous au patient\u00a0: échec de l'envoi",
         "Ce numéro n'est pas un mobile"),
        ("synthesis_sent", {"to": "a@b.mssante.fr"}, "Synthèse au médecin traitant (messagerie sécurisée)\u00a0: envoyé", None),
        ("relaunched", {"request_id": 12}, "Demande relancée", None),
        ("patient_rectified", {"fields": ["last_name", "phone"], "reference": "RGPD-16"}, "Identité du patient corrigée",
         "Corrigés\u00a0: nom, téléphone."),
        ("patient_erased", {"reason": "subject_erasure"}, "Identité du patient effacée", "À la demande du patient"),
        ("deadlines_moved", {"by_s": 1200, "expires_at": "2026-11-23T16:20:00Z"}, "Échéances reportées", "Reportées de 20 min"),
        ("offer_expired", {"channel": "push", "count": 2},
         "Proposition envoyée à un médecin\u00a0: non envoyé avant l'échéance de la demande", None),
    ],
)  # fmt: skip
def test_events_read_as_sentences(type_: str, data: dict[str, Any], label: str, detail: str | None) -> None:
    described = history.describe(type_, data, "Europe/Paris")
    assert described["label"] == label
    if detail is not None:
        assert any(sentence.startswith(detail) for sentence in described["details"]), described["details"]
    if type_ == "relaunched":
        assert (described["link"], described["link_label"]) == (12, "Voir la nouvelle demande n° 12")
