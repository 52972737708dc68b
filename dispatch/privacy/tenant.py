"""A tenant leaves: everything one community holds, exported to a zip, then removed from every table.

What a community holds is found by walking the metadata, so that a table added later is not forgotten: the
community's row, every row with its `community_id`, every row of its requests (`request_id`), and its members who
belong to no other community (their user, physician, devices, sessions and trail: `user_id`, `physician_id`).
A member of another community too keeps their account; they only leave this one.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, delete, false, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from dispatch.auth.models import Membership, User
from dispatch.communities.models import Community, Physician
from dispatch.db import db
from dispatch.requests.models import Request, Synthesis
from dispatch.synthesis.document import build_pdf
from dispatch.synthesis.service import synthesis_doc

# Secrets of the platform, not data of the community: never exported (deleted with the members who own them).
SECRET_TABLES = frozenset({"tokens", "password_resets", "recovery_codes", "offer_links", "login_failures"})
SECRET_COLUMNS = frozenset({"password_hash", "totp_secret", "totp_last_step", "token_hash", "code_hash", "token", "token_key"})


class WrongName(ValueError):
    """The name given to confirm a removal is not the community's."""


@dataclass(frozen=True)
class Holdings:
    """The ids that make a community's rows: itself, its requests (a query), its own members and their physicians."""

    community_id: int
    users: tuple[int, ...]
    physicians: tuple[int, ...]
    logins: tuple[str, ...]

    @property
    def requests(self) -> Any:
        return select(Request.id).where(Request.community_id == self.community_id).scalar_subquery()


def holdings(community_id: int) -> Holdings:
    """Return what the community holds; its members of no other community (never the admin) go with it."""
    members = select(Membership.user_id).where(Membership.community_id == community_id)
    elsewhere = select(Membership.user_id).where(Membership.community_id != community_id)
    users = db.session.execute(
        select(User.id, User.login).where(User.id.in_(members), User.id.not_in(elsewhere), User.role != "admin").order_by(User.id)
    ).all()
    ids = tuple(user_id for user_id, _ in users)
    physicians = tuple(db.session.scalars(select(Physician.id).where(Physician.user_id.in_(ids)).order_by(Physician.id)))
    return Holdings(community_id, ids, physicians, tuple(login for _, login in users))


def owned(table: Table, held: Holdings) -> ColumnElement[bool]:
    """Return the condition that a row of `table` belongs to the community."""
    conditions: list[ColumnElement[bool]] = []
    by_target = {"communities": [held.community_id], "requests": held.requests, "users": held.users, "physicians": held.physicians}
    if table.name in ("communities", "users", "physicians") and "id" in table.c:
        conditions.append(table.c.id.in_(by_target[table.name]))
    for column in table.c:
        for key in column.foreign_keys:
            target = key.column.table.name
            # Only the columns that say whose the row is: an actor's id (events.actor_id...) does not make it theirs.
            if column.name in ("community_id", "request_id", "user_id", "physician_id") and target in by_target:
                conditions.append(column.in_(by_target[target]))
    if table.name == "login_failures":
        conditions.append(table.c.login.in_(held.logins))
    return or_(*conditions) if conditions else false()


def _tables() -> list[Table]:
    return list(db.metadata.sorted_tables)


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


README = """Export des données de la communauté « {name} » (n° {id}), le {at}

Ce fichier rassemble tout ce que le service de soins non programmés conserve pour la CPTS, à la fin de son contrat :

- un fichier JSON par table (nom de la table + .json), une liste de lignes, chaque ligne un objet
  {{colonne: valeur}} ; dates et heures au format ISO 8601 en UTC ;
{tables}
- syntheses/compte-rendu-<n° de demande>.pdf : le compte rendu de chaque consultation, tel qu'envoyé au médecin
  traitant (sauf ceux déjà effacés avec l'identité du patient : durée de conservation ou demande du patient).

Ne sont pas exportés les secrets de la plateforme : mots de passe (empreintes), secrets de double authentification,
jetons de session, liens à usage unique, codes de secours, échecs de connexion.

Ces données de santé relèvent du secret médical : à conserver sur un hébergement certifié HDS, puis à détruire.
"""

DESCRIPTIONS = {
    "communities": "la communauté et ses réglages",
    "requests": "les demandes (patient, motif, dates, issue)",
    "offers": "les propositions faites aux médecins et leurs réponses",
    "events": "l'historique de chaque demande",
    "syntheses": "les synthèses de consultation (texte et statut d'envoi)",
    "access_records": "le registre des accès à l'identité des patients",
    "outbox": "les messages envoyés (SMS, notifications, messagerie sécurisée)",
    "users": "les comptes des membres (sans mot de passe)",
    "memberships": "les rôles des membres dans la communauté",
    "physicians": "les médecins membres",
}


def export_community(*, community_id: int, now: datetime) -> bytes:
    """Return the zip of everything the community holds: a JSON file per table, the syntheses' PDFs, a README."""
    community = db.session.get(Community, community_id)
    if community is None:
        raise LookupError(community_id)
    held = holdings(community_id)
    out = io.BytesIO()
    listed = []
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for table in _tables():
            if table.name in SECRET_TABLES:
                continue
            columns = [column for column in table.c if column.name not in SECRET_COLUMNS]
            condition: ColumnElement[bool]
            if table.name == "users":  # every member's account, shared ones included (without their secrets)
                condition = table.c.id.in_(select(Membership.user_id).where(Membership.community_id == community_id))
            else:
                condition = owned(table, held)
            order = list(table.primary_key.columns)
            rows = [
                {column.name: _json(value) for column, value in zip(columns, row, strict=True)}
                for row in db.session.execute(select(*columns).where(condition).order_by(*order))
            ]
            if not rows:
                continue
            archive.writestr(f"{table.name}.json", json.dumps(rows, ensure_ascii=False, indent=1))
            described = f" — {DESCRIPTIONS[table.name]}" if table.name in DESCRIPTIONS else ""
            listed.append(f"  {table.name}.json : {len(rows)} ligne(s){described}")
        syntheses = db.session.execute(
            select(Synthesis, Request)
            .join(Request, Request.id == Synthesis.request_id)
            .where(Request.community_id == community_id, Request.erased_at.is_(None))
            .order_by(Request.id)
        )
        for synthesis, request in syntheses:
            archive.writestr(f"syntheses/compte-rendu-{request.id}.pdf", build_pdf(synthesis_doc(synthesis, request)))
        readme = README.format(name=community.name, id=community.id, at=now.isoformat(), tables="\n".join(listed))
        archive.writestr("README.txt", readme)
    return out.getvalue()


def delete_community(*, community_id: int, confirm: str) -> dict[str, int]:
    """Remove every row the community holds, in one transaction; return the rows removed per table."""
    community = db.session.get(Community, community_id)
    if community is None:
        raise LookupError(community_id)
    if confirm != community.name:
        raise WrongName(community.name)
    held = holdings(community_id)
    db.session.expunge_all()
    _unlink_actors(held)
    removed: dict[str, int] = {}
    for table in reversed(_tables()):  # children first
        condition = owned(table, held)
        count = db.session.scalar(select(func.count()).select_from(table).where(condition)) or 0
        if count:
            db.session.execute(delete(table).where(condition))
            removed[table.name] = int(count)
    db.session.commit()
    return removed


def _unlink_actors(held: Holdings) -> None:
    """Forget the leaving members in other communities' rows that name them as actors (who acted, who created)."""
    going = {"users": held.users, "physicians": held.physicians}
    for table in _tables():
        mine = owned(table, held)
        for column in table.c:
            if not column.nullable:
                continue
            for key in column.foreign_keys:
                target = key.column.table.name
                if target in going and going[target]:
                    db.session.execute(update(table).where(column.in_(going[target]), ~mine).values({column.name: None}))
