"""A demo community: one CPTS, its operator, coordinator, six physicians, five nurses and a physiotherapist, and
their history (a year of the physicians' requests, six weeks of the others')."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import select

from dispatch.auth.models import User
from dispatch.communities import membership, service
from dispatch.communities.models import Community
from dispatch.db import db
from dispatch.demo_care import CARERS, load_care
from dispatch.demo_history import load_history
from dispatch.geo.loading import load_file
from dispatch.geo.models import BanCommune
from dispatch.professions import word
from dispatch.requests import rollup, rollup_backfill

PASSWORD = "demo-snp-2026"
# A few Val-de-Marne streets the demo uses, in the national address base's CSV format (positions approximate): what
# `dispatch geo load adresses-94.csv.gz` would load from the real file, so that `make run` places addresses.
ADDRESSES = Path(__file__).parent / "demo_data" / "adresses-94-demo.csv"

PEOPLE = [
    # login, role, name, rpps, kind, phone, address, device
    ("operateur", "operator", "Sophie Leroy (OSNP)", None, None, "+33600000001", None, False),
    ("coordination", "coordinator", "Marc Petit (coordination CPTS)", None, None, None, None, False),
    (
        "dr.durand",
        "physician",
        "Dr Paul Durand",
        "10003456786",
        "titulaire",
        "+33600000010",
        "12 rue de Bry, 94500 Champigny-sur-Marne",
        True,
    ),
    (
        "dr.benali",
        "physician",
        "Dr Amina Benali",
        "10001234565",
        "cami",
        "+33600000011",
        "CAMI, 2 avenue Roger Salengro, 94500 Champigny-sur-Marne",
        True,
    ),
    (
        "dr.nguyen",
        "physician",
        "Dr Thi Nguyen",
        "10009876540",
        "cami",
        "+33600000012",
        "CAMI, 2 avenue Roger Salengro, 94500 Champigny-sur-Marne",
        True,
    ),
    (
        "dr.moreau",
        "physician",
        "Dr Julien Moreau",
        "10002222221",
        "remplacant",
        "+33600000013",
        "5 place Lénine, 94500 Champigny-sur-Marne",
        False,
    ),
    (
        "dr.roux",
        "physician",
        "Dr Claire Roux",
        "10004444443",
        "remplacant",
        "+33600000014",
        "40 avenue du Général de Gaulle, 94500 Champigny-sur-Marne",
        True,
    ),
    (
        "dr.fontaine",
        "physician",
        "Dr Hugo Fontaine",
        "10005555551",
        "adjoint",
        "+33600000015",
        "8 rue Jean Jaurès, 94500 Champigny-sur-Marne",
        True,
    ),
]


DEMO_REQUESTER = ("ehpad", "Infirmière de l'EHPAD Les Tilleuls", "940000128", "+33600000020")  # a fictitious FINESS
DEMO_TELECONSULTATION_HOSTS = [".visio.example.fr"]  # the demo's teleconsultation tool (example.fr hosts nothing)


def _demo_requester(community: Community, *, now: datetime, ph: PasswordHasher) -> str:
    """Add the demo's requester (an EHPAD's nurse) and the community's teleconsultation host; return its line."""
    login, name, finess, phone = DEMO_REQUESTER
    if db.session.scalar(select(User.id).where(User.login == login)) is None:
        membership.add_member(
            community=community,
            role="requester",
            login=login,
            password=PASSWORD,
            name=name,
            now=now,
            ph=ph,
            phone=phone,
            finess=finess,
            profession=None,
        )
    if not community.teleconsultation_hosts:
        community.teleconsultation_hosts = DEMO_TELECONSULTATION_HOSTS
        db.session.commit()
    return f"  {login:<15} requester  {name} (FINESS {finess}) ; téléconsultation sur {DEMO_TELECONSULTATION_HOSTS[0]}"


def load_demo(app: Flask, *, history: bool = True) -> list[str]:
    """Create the demo community and its year of history unless they exist; return the lines to print."""
    runtime = app.extensions["dispatch"]
    now = runtime.clock.now()
    lines = [f"Communauté de démonstration : CPTS Champigny (mot de passe de tous les comptes : {PASSWORD})"]
    if db.session.scalar(select(BanCommune.code_insee).where(BanCommune.departement == "94").limit(1)) is None:
        loaded = load_file(ADDRESSES)  # before the members: their practices are placed from it
        lines.append(f"Extrait de la base adresse nationale (démo) : {loaded.addresses} adresses du Val-de-Marne.")
    if db.session.scalar(select(User.id).where(User.login == "admin")) is None:
        from dispatch.auth.service import create_user

        create_user(login="admin", password=PASSWORD, name="Administrateur", role="admin", now=now, ph=runtime.hasher)
        db.session.commit()
    community = db.session.scalar(select(Community).where(Community.name == "CPTS Champigny"))
    if community is None:
        community = service.create_community(
            name="CPTS Champigny", timezone="Europe/Paris", exclusive_window_s=3600, response_window_s=7200, now=now
        )
    lines.append(f"  admin           administrateur (community_id={community.id})")
    for login, role, name, rpps, kind, phone, address, device in PEOPLE:
        user = db.session.scalar(select(User).where(User.login == login))
        if user is None:
            mssante = f"{login.replace('dr.', '')}@medecin.mssante.fr" if role == "physician" else None
            user, physician = membership.add_member(
                community=community,
                role=role,
                login=login,
                password=PASSWORD,
                name=name,
                now=now,
                ph=runtime.hasher,
                phone=phone,
                rpps=rpps,
                kind=kind,
                mssante=mssante,
                address=address,
                # A practice's landline for the patient's SMS (issue 22): 01 48 80 00 1x, a Champigny number.
                practice_phone=f"+3314880001{rpps[-1]}" if rpps else None,
            )
            if physician is not None and device:
                service.register_device(physician=physician, platform="android", token=f"demo-device-{login}", now=now)
        lines.append(f"  {login:<15} {role}  {name}")
    for carer in CARERS:
        if db.session.scalar(select(User.id).where(User.login == carer.login)) is None:
            _, member = membership.add_member(
                community=community,
                role="physician",
                profession=carer.profession,
                login=carer.login,
                password=PASSWORD,
                name=carer.name,
                now=now,
                ph=runtime.hasher,
                phone=carer.phone,
                rpps=carer.rpps,
                kind="titulaire",
                address=carer.address,
                lat=carer.place[0],
                lon=carer.place[1],
            )
            if member is not None and carer.device:
                service.register_device(physician=member, platform="android", token=f"demo-device-{carer.login}", now=now)
        lines.append(f"  {carer.login:<15} {word(carer.profession)}  {carer.name}")
    lines.append(_demo_requester(community, now=now, ph=runtime.hasher))
    operator = db.session.scalar(select(User.id).where(User.login == "operateur"))
    if history and operator is not None:
        added = load_history(community=community, operator_id=operator, now=now)
        if added:
            lines.append(f"Historique de démonstration : {added} demandes sur les douze derniers mois.")
        cared = load_care(community=community, operator_id=operator, now=now)
        if cared:
            rollup.discard_pending(db.session())
            rollup_backfill.backfill(db.session.connection())
            db.session.commit()
            lines.append(f"Infirmiers et kinésithérapeute : {cared} demandes sur les six dernières semaines.")
    lines.append(
        "Le médecin traitant inscrit est dr.durand (RPPS 10003456786) ; dr.moreau n'a pas d'appareil "
        "(il reçoit les offres par SMS). Les infirmiers suivent leurs règles (/regles) : l'infirmier habituel seul "
        "6 h, puis ceux à moins de 10 km ; idel.vidal, à Rungis, est trop loin des patients de la démo."
    )
    return lines
