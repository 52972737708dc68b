"""The escalation machine: every rule of a request's life, as pure decisions on a snapshot, given `now`.

Split along the use cases: `lifecycle` (opening, deadlines, cancellation, call-back, relaunch), `offers` (accept,
refuse), `visit` (outcome, synthesis, hand-back), and `windows` (when an action may happen).

The use cases read a `Snapshot`, ask the machine, write the `Decision` (its state, deadlines, columns and
events) and carry out each of its effects, which are values (`dispatch.requests.decisions`). Nothing outside this
module decides a state, a deadline, an event, a side effect, or a window a user's action must fall in.
"""

from __future__ import annotations

from dispatch.requests.decisions import (
    EFFECT_TYPES,
    ActorOffer,
    AnswerOffer,
    Audience,
    Decision,
    Effect,
    EventSpec,
    OfferTo,
    Plan,
    Refusal,
    ReOffer,
    SmsPatient,
    SmsPatientReleased,
    Snapshot,
    StoreSynthesis,
    TellOperator,
    TellOutsideTreating,
    Withdraw,
    WithdrawFrom,
    current_deadline,
    iso,
)
from dispatch.requests.machine.lifecycle import (
    advance,
    call_back,
    cancel,
    open_request,
    physician_unavailable,
    relaunchable,
    treating_unavailable,
)
from dispatch.requests.machine.offers import accept, refuse
from dispatch.requests.machine.visit import birth_date_needed, record_outcome, release, synthesis_status
from dispatch.requests.machine.windows import (
    APPOINTMENT_WINDOW,
    OUTCOME_CORRECTION,
    RELEASE_GRACE,
    Window,
    appointment_refusal,
    open_to,
    outcome_correctable,
    outcome_open,
)
from dispatch.requests.states import (
    ANSWERABLE,
    CLOSED_STATES,
    OPEN_STATES,
    OUTCOMES,
    STATES,
    OfferStatus,
    Phase,
    State,
    SynthesisStatus,
)

__all__ = [
    "OUTCOME_CORRECTION",
    "outcome_correctable",
    "ANSWERABLE",
    "APPOINTMENT_WINDOW",
    "ActorOffer",
    "AnswerOffer",
    "Audience",
    "CLOSED_STATES",
    "Decision",
    "EFFECT_TYPES",
    "Effect",
    "EventSpec",
    "OPEN_STATES",
    "OUTCOMES",
    "OfferStatus",
    "OfferTo",
    "Phase",
    "Plan",
    "RELEASE_GRACE",
    "ReOffer",
    "Refusal",
    "STATES",
    "SmsPatient",
    "SmsPatientReleased",
    "Snapshot",
    "State",
    "StoreSynthesis",
    "SynthesisStatus",
    "TellOperator",
    "TellOutsideTreating",
    "Window",
    "Withdraw",
    "WithdrawFrom",
    "accept",
    "advance",
    "appointment_refusal",
    "birth_date_needed",
    "call_back",
    "cancel",
    "current_deadline",
    "iso",
    "open_request",
    "open_to",
    "outcome_open",
    "physician_unavailable",
    "record_outcome",
    "refuse",
    "relaunchable",
    "release",
    "synthesis_status",
    "treating_unavailable",
]
