"""What each figure of the report means, in French, as printed at the end of the PDF and under the dashboard,
and the labels of the charts both draw.

The definitions follow CONTRACT.md ("The report") and dispatch/reports/service.py; keep the three in step.
"""

from __future__ import annotations

from dispatch.french import typography

_DEFINITIONS = (
    (
        "Période",
        "Une demande appartient à la période quand elle a été ouverte entre le premier et le dernier jour inclus, "
        "à l'heure de la communauté ; les mois sont des mois civils à cette même heure.",
    ),
    ("Demandes ouvertes", "Les demandes de soins non programmés ouvertes par un opérateur (ou la coordination) sur la période."),
    (
        "Demandes acceptées",
        "Les demandes qu'un médecin a acceptées, quelle qu'en soit la suite : patient vu, patient absent ou issue "
        "non encore renseignée. Une demande dont le médecin s'est désisté puis qu'un autre a prise compte une fois.",
    ),
    (
        "Taux d'acceptation",
        "Demandes acceptées / (demandes ouvertes − demandes annulées). Sans objet (—) quand aucune demande "
        "non annulée n'a été ouverte.",
    ),
    (
        "Expirées sans médecin",
        "Les demandes qu'aucun médecin n'a acceptées avant la fin de leur fenêtre de réponse ; l'opérateur "
        "rappelle alors le patient.",
    ),
    ("Annulées, en cours", "Annulées par l'opérateur ou la coordination ; encore proposées aux médecins à la date d'édition."),
    (
        "Acceptées par le médecin traitant, par la communauté",
        "Par le médecin traitant du patient, pendant son heure d'exclusivité ou après ; par un autre médecin de la communauté.",
    ),
    (
        "Par statut de médecin",
        "Les demandes acceptées selon le statut du médecin qui les a prises : titulaire, remplaçant, adjoint, "
        "assistant, interne ou médecin du CAMI.",
    ),
    (
        "Délai d'acceptation",
        "Le temps entre l'ouverture de la demande et son acceptation. La médiane : la moitié des demandes "
        "acceptées l'ont été plus vite. Le 90e centile : 90 % des demandes acceptées l'ont été plus vite "
        "(valeurs interpolées entre deux demandes, arrondies à la seconde).",
    ),
    (
        "Patients absents",
        "Les demandes acceptées dont le médecin a indiqué que le patient n'est pas venu au rendez-vous. "
        "Taux de patients absents = absents / (patients vus + absents) ; les issues non renseignées n'y entrent pas.",
    ),
    (
        "Refus",
        "Les propositions dont la dernière réponse du médecin est un refus (un médecin qui refuse puis accepte "
        "compte comme acceptant).",
    ),
    (
        "Par médecin",
        "Pour chaque médecin à qui une demande de la période a été proposée : demandes proposées, acceptées, "
        "refusées, et désistements (demande acceptée puis rendue avant le rendez-vous).",
    ),
    ("Motif, origine", "Le motif retenu par l'opérateur au tri, et qui a adressé la demande (COT, SAS, SAMU, pharmacie…)."),
    ("Médecin traitant", "Ce que l'opérateur a noté du médecin traitant du patient : déclaré, aucun ou inconnu."),
    (
        "Appels",
        "Les appels reçus : chaque demande ouverte compte son appel (une demande relancée n'en compte pas), plus les "
        "appels triés sans demande (urgence vitale transférée au 15, renouvellement d'ordonnance refusé, autre orientation).",
    ),
    (
        "Rappels",
        "Ce qu'il est advenu des demandes expirées ou rendues trop tard : réorientation vers le SAS ou le 15, conseil "
        "donné, patient injoignable, demande relancée ; « à faire » compte les demandes expirées que personne n'a "
        "encore rappelées.",
    ),
    (
        "Synthèses",
        "Les comptes rendus envoyés au médecin traitant par messagerie sécurisée de santé (MSSanté) : envoyés "
        "(dont remis et lus, d'après les accusés de réception revenus), refusés par le logiciel du destinataire, "
        "en échec, en attente ; non envoyables sans médecin traitant ou sans adresse sécurisée, non nécessaires "
        "quand le médecin traitant a vu lui-même le patient.",
    ),
)

DEFINITIONS: tuple[tuple[str, str], ...] = tuple((term, typography(text)) for term, text in _DEFINITIONS)

# The rows of the charts of outcomes, calls and call-backs (the dashboard's and the PDF's).
OUTCOMES = {"seen": "Patients vus", "no_show": "Patients absents", "pending": "Issue non renseignée"}
CALLS = {
    "with_request": "Avec une demande",
    "emergency_15": "Transférés au 15",
    "renewal_refused": "Renouvellements refusés",
    "other_orientation": "Autres orientations",
}
CALLBACKS = {
    "reoriented_sas": "Réorientés vers le SAS",
    "reoriented_15": "Réorientés vers le 15",
    "advice_given": "Conseil donné",
    "unreachable": "Patient injoignable",
    "relaunched": "Demande relancée",
    "pending": "Rappel à faire",
}
