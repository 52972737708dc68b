"""A roster of members as a coordinator's spreadsheet saves it: read CSV in UTF-8 (with or without BOM), UTF-16
or Windows-1252, with ';', ',' or tabs, French headers and words; and the template to fill in. No I/O here."""

from __future__ import annotations

import csv
import io
import unicodedata
from typing import Any

from dispatch.professions import CODES, PHYSICIAN, PROFESSIONS, WORDS

NNBSP = "\u202f"  # before ':' in French
# The template's headers, in order, and the API field each one fills.
TEMPLATE_HEADERS = ("rôle", "identifiant", "nom", "email", "téléphone", "rpps", "statut", "mssanté", "adresse", "profession")
REQUIRED = ("role", "login", "name")
# Header as written (accents, case, spaces and dashes ignored) → API field.
HEADERS = {
    "role": "role",
    "identifiant": "login",
    "login": "login",
    "nom": "name",
    "nom_complet": "name",
    "prenom_nom": "name",
    "email": "email",
    "e_mail": "email",
    "mail": "email",
    "courriel": "email",
    "telephone": "phone",
    "tel": "phone",
    "portable": "phone",
    "mobile": "phone",
    "telephone_portable": "phone",
    "rpps": "rpps",
    "finess": "finess",
    "statut": "kind",
    "mssante": "mssante",
    "adresse_mssante": "mssante",
    "adresse": "address",
    "adresse_du_cabinet": "address",
    "mot_de_passe": "password",
    "profession": "profession",
}
ROLES = {
    "medecin": "physician",
    "physician": "physician",
    "operateur": "operator",
    "operatrice": "operator",
    "osnp": "operator",
    "operator": "operator",
    "coordinateur": "coordinator",
    "coordinatrice": "coordinator",
    "coordination": "coordinator",
    "coordinator": "coordinator",
    "professionnel": "professional",
    "professionnelle": "professional",
    "professionnel_de_sante": "professional",
    "professional": "professional",
    "demandeur": "requester",
    "demandeuse": "requester",
    "requester": "requester",
}
KINDS = {
    "titulaire": "titulaire",
    "remplacant": "remplacant",
    "remplacante": "remplacant",
    "adjoint": "adjoint",
    "adjointe": "adjoint",
    "assistant": "assistant",
    "assistante": "assistant",
    "interne": "interne",
    "cami": "cami",
    "medecin_cami": "cami",
}
FIELD_LABELS = {
    "role": "rôle",
    "login": "identifiant",
    "name": "nom",
    "email": "email",
    "phone": "téléphone",
    "rpps": "RPPS",
    "kind": "statut",
    "mssante": "MSSanté",
    "address": "adresse",
    "profession": "profession",
    "_body": "ligne",
}
UNREADABLE = "Le fichier n'est pas un texte CSV lisible\u202f: enregistrez-le depuis votre tableur au format «\u00a0CSV\u00a0»."
# Members a file may add at once: each is sent an invitation by SMS or mail, so a roster is also a volley of messages
# (and the SMS are paid); a CPTS that has more splits its file.
MAX_ROWS = 500
TOO_MANY_ROWS = (
    f"Le fichier compte plus de {MAX_ROWS} lignes de membres\u202f: {MAX_ROWS} au plus par import. "
    "Découpez-le en plusieurs fichiers et importez-les l'un après l'autre."
)
NO_INVITATION = "ni téléphone ni email\u202f: impossible d'envoyer l'invitation à choisir un mot de passe."
NO_PASSWORDS = (
    "La colonne «\u00a0mot de passe\u00a0» n'est plus acceptée\u202f: chaque membre importé reçoit par SMS ou par mail "
    "une invitation à choisir le sien. Retirez cette colonne et importez à nouveau."
)


def key(word: str) -> str:
    """Return a header or a value as compared: no accents, lower case, spaces and dashes as '_'."""
    plain = unicodedata.normalize("NFKD", word.strip()).encode("ascii", "ignore").decode()
    return "_".join(plain.lower().replace("-", " ").replace("'", " ").split())


# A profession as written: the national code (TRE_G15) or its French word, feminine and short forms included.
PROFESSION_WORDS = {
    **{code: code for code in CODES},
    **{key(label): code for code, label in PROFESSIONS.items()},
    **{key(word): code for code, word in WORDS.items()},
    "pharmacienne": "21",
    "dentiste": "40",
    "infirmiere": "60",
    "ide": "60",
    "kine": "70",
    "masseuse_kinesitherapeute": "70",
}


def decode(raw: bytes) -> str | None:
    """Return the file's text: UTF-8 (BOM or not), UTF-16 with its BOM, else Windows-1252; None if none fits."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def delimiter(header: str) -> str:
    """Return the separator of a CSV file from its header line: the most frequent of ';', ',' and tab."""
    counts = {sep: header.count(sep) for sep in (";", ",", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ";"


def parse(raw: bytes) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """Read a roster into (line number, API fields) rows, or return the French reasons it cannot be read."""
    text = decode(raw)
    if text is None or not text.strip():
        return [], [UNREADABLE if text is None else "Le fichier est vide."]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter(text.splitlines()[0]))
    try:
        header = next(reader)
    except csv.Error:
        return [], [UNREADABLE]
    fields = [HEADERS.get(key(h)) for h in header]
    if "password" in fields:
        return [], [NO_PASSWORDS]
    missing = [FIELD_LABELS[f] for f in REQUIRED if f not in fields]
    if missing:
        expected = ";".join(TEMPLATE_HEADERS)
        return [], [f"Colonnes manquantes{NNBSP}: {', '.join(missing)} (en-tête attendu{NNBSP}: {expected})."]
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        for record in reader:
            data = {f: v.strip() for f, v in zip(fields, record, strict=False) if f and v.strip()}
            if data:
                if len(rows) == MAX_ROWS:  # read no further: the file is refused whole
                    return [], [TOO_MANY_ROWS]
                rows.append((reader.line_num, _words(data)))
    except csv.Error as exc:
        return [], [f"Ligne {reader.line_num}{NNBSP}: le fichier CSV est mal formé ({exc})."]
    if not rows:
        return [], ["Le fichier ne contient aucune ligne de membre."]
    return rows, []


def _words(data: dict[str, Any]) -> dict[str, Any]:
    """Turn the French words of a row (médecin, remplaçante…) into the API's codes; unknown words are kept, to be
    refused by the schema with the list of expected values."""
    if "role" in data:
        data["role"] = ROLES.get(key(data["role"]), data["role"])
    if "kind" in data:
        data["kind"] = KINDS.get(key(data["kind"]), data["kind"])
    if "profession" in data:
        # Default physician: no column, or a blank cell. A known profession other than 10 makes a "médecin" line a
        # professional of it; an unknown word is kept, to be refused in French (WORDS_EXPECTED).
        code = PROFESSION_WORDS.get(key(data["profession"]))
        if code is None:
            pass
        elif data.get("role") == "physician" and code == PHYSICIAN:
            del data["profession"]  # a physician is of profession 10 already
        else:
            data["profession"] = code
            if data.get("role") == "physician":
                data["role"] = "professional"
    if "rpps" in data:
        data["rpps"] = "".join(data["rpps"].split())
    return data


# The schema lists the API's codes; a spreadsheet is written in words.
WORDS_EXPECTED = {
    "role": f"Rôle inconnu{NNBSP}: médecin, opérateur ou coordinateur attendu.",
    "kind": f"Statut inconnu{NNBSP}: titulaire, remplaçant, adjoint, assistant, interne ou CAMI attendu.",
    "profession": f"Profession inconnue{NNBSP}: "
    + ", ".join(word for word in WORDS.values())
    + " (ou leur code : "
    + ", ".join(CODES)
    + ") attendu.",
}


def line_errors(line: int, data: dict[str, Any], errors: dict[str, list[str]]) -> list[str]:
    """Return the French report lines of one roster line's errors ("Ligne 4 — RPPS : …")."""
    errors = {
        field: [WORDS_EXPECTED[field]] if field in WORDS_EXPECTED and data.get(field) else messages
        for field, messages in errors.items()
    }
    if not data.get("phone") and not data.get("email"):
        errors = {k: v for k, v in errors.items() if k != "phone"}
        errors = {"_invitation": [NO_INVITATION], **errors}
    out = []
    for field, messages in errors.items():
        if field == "_invitation":
            out.append(f"Ligne {line} — {' '.join(messages)}")
        else:
            out.append(f"Ligne {line} — {FIELD_LABELS.get(field, field)}{NNBSP}: {' '.join(messages)}")
    return out


def template() -> bytes:
    """Return the roster template: UTF-8 with a BOM, ';' separators and the French headers, as French Excel opens it."""
    return ("\ufeff" + ";".join(TEMPLATE_HEADERS) + "\r\n").encode("utf-8")
