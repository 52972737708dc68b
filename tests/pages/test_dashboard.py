"""The dashboard's periods and PDF, and the French of the pages staff and everyone read (typography, words)."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from dispatch.pages.charts import bars

ROOT = Path(__file__).resolve().parents[2]
# A plain space (or line end) before : ; ? ! » or after «: French wants a no-break space there.
LOOSE = re.compile(r"[^\S\u00a0\u202f][:;?!»]|«[^\S\u00a0\u202f]")


class Text(HTMLParser):
    """Collect what a reader sees of a page: its text, not its scripts, styles or attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hidden += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def text(html: str) -> str:
    parser = Text()
    parser.feed(html)
    return "".join(parser.parts)


def loose_spaces(html: str) -> list[str]:
    """Return each place of the page's text where a plain space stands before high punctuation, in context."""
    seen = text(html)
    return [seen[max(0, m.start() - 30) : m.end() + 10] for m in LOOSE.finditer(seen)]


@pytest.fixture
def world(make: Any, clock: Any) -> dict[str, Any]:
    community = make.community("CPTS Champigny")
    operator = make.member(community, "operator")
    cami = make.member(community, "physician", name="Dr Awa Diallo", kind="cami")
    first = make.open(operator, community)
    make.open(operator, community)
    clock.advance(minutes=20)
    assert make.accept(cami, first["id"]).status_code == 200
    return {
        "community": community,
        "operator": operator,
        "cami": cami,
        "coordinator": make.member(community, "coordinator"),
        "admin": make.admin(),
    }


def test_the_usual_periods_in_the_community_time_zone(world: dict[str, Any], as_user: Any, clock: Any) -> None:
    """At 23:30 UTC on 31 December it is already the new year in Paris: the periods follow Paris."""
    clock.set(datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc))
    html = as_user(world["coordinator"]).get("/pilotage").get_data(as_text=True)
    nav = html[html.index('<nav class="shortcuts"') : html.index("</nav>", html.index('<nav class="shortcuts"'))]
    shortcut = r'from=([\d-]+)&amp;to=([\d-]+)"\s*(?:aria-current="true")?>([^<]+)</a>'
    found = {label: (first, last) for first, last, label in re.findall(shortcut, nav)}
    assert found == {
        "Ce mois-ci": ("2027-01-01", "2027-01-01"),
        "12 derniers mois": ("2026-02-01", "2027-01-01"),
        "Le mois dernier": ("2026-12-01", "2026-12-31"),
        "Ce trimestre": ("2027-01-01", "2027-01-01"),
        "Cette année": ("2027-01-01", "2027-01-01"),
        "L&#39;année dernière": ("2026-01-01", "2026-12-31"),
    }
    assert "Le 1er\u00a0janvier 2027" in html  # the default period, the year to date, in words


def test_a_shortcut_shows_its_period_and_says_it_is_the_current_one(world: dict[str, Any], as_user: Any) -> None:
    coordinator = as_user(world["coordinator"])
    html = coordinator.get("/pilotage?from=2026-10-01&to=2026-10-31").get_data(as_text=True)
    assert re.search(r'to=2026-10-31"\s*aria-current="true">Le mois dernier</a>', html)
    assert "Du 1er au 31\u00a0octobre 2026" in html and 'id="kpi-opened">0<' in html
    html = coordinator.get("/pilotage?from=2026-11-01&to=2026-11-23").get_data(as_text=True)
    assert re.search(r'aria-current="true">Ce mois-ci</a>', html) and 'id="kpi-opened">2<' in html


def test_the_dashboard_links_the_pdf_of_the_period_shown(world: dict[str, Any], as_user: Any) -> None:
    from tests.reports.test_pdf import flat, words

    coordinator = as_user(world["coordinator"])
    html = coordinator.get("/pilotage?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    link = re.search(r'<a class="btn primary" id="report-pdf" href="([^"]+)">Rapport PDF</a>', html)
    assert link is not None
    href = link.group(1).replace("&amp;", "&")
    assert href.startswith("/pilotage/rapport.pdf?") and "from=2026-11-01" in href and "to=2026-11-30" in href
    response = coordinator.http.get(href)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert 'filename="rapport-cpts-champigny-2026-11-01-2026-11-30.pdf"' in response.headers["Content-Disposition"]
    pdf = words(response.data)
    assert flat("Du 1er au 30 novembre 2026") in pdf and flat("Dr Awa Diallo Médecin du CAMI 2 1 0 0") in pdf
    assert as_user(world["operator"]).http.get(href).status_code == 403
    assert coordinator.http.get("/pilotage/rapport.pdf?from=2026-12-01&to=2026-11-01").status_code == 422


def test_figures_are_written_the_french_way(world: dict[str, Any], as_user: Any) -> None:
    html = as_user(world["coordinator"]).get("/pilotage?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    assert "acceptées · 50,0\u202f%" in html and "délai médian d'acceptation" in html and "20\u00a0min" in html
    assert "patients absents" in html and "lapin" not in html.lower()
    chart = bars([("Infectieux", 4000), ("ORL", 1234)], "Demandes par motif", total=5234)
    assert "4\u202f000 (76\u202f%)" in chart and "1\u202f234 (24\u202f%)" in chart


def test_no_rabbits_anywhere_in_the_product() -> None:
    """Staff read "patients absents": the slang for a no-show stays out of every page, message and export."""
    rabbit = "lap" + "in"
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "dispatch").rglob("*")
        if path.suffix in (".py", ".html", ".js", ".css", ".json", ".webmanifest") and rabbit in path.read_text("utf-8").lower()
    ]
    assert offenders == []


def test_the_pages_put_no_break_spaces_before_high_punctuation(
    world: dict[str, Any], as_user: Any, make: Any, page_client: Any
) -> None:
    """Sign-in, account, notifications, communities, dashboard and error pages: no line may start with ':' or '?'."""
    pages: dict[str, str] = {}
    pages["sign-in"] = page_client.get("/connexion").get_data(as_text=True)
    pages["sign-in again"] = page_client.get("/connexion?next=/pilotage%3Freprise%3D1").get_data(as_text=True)
    pages["sign-in refused"] = page_client.post("/connexion", {"login": "personne", "password": "non"}).get_data(as_text=True)
    coordinator = as_user(world["coordinator"])
    pages["dashboard"] = coordinator.get("/pilotage?from=2026-11-01&to=2026-11-30").get_data(as_text=True)
    pages["dashboard, wrong period"] = coordinator.get("/pilotage?from=2026-12-01&to=2026-11-01").get_data(as_text=True)
    pages["account"] = coordinator.get("/compte").get_data(as_text=True)
    pages["account, errors"] = coordinator.post(
        "/compte/mot-de-passe", {"current_password": "faux", "new_password": "court", "new_password_again": "autre"}
    ).get_data(as_text=True)
    pages["not found"] = coordinator.get("/nulle-part").get_data(as_text=True)
    pages["forbidden"] = as_user(world["operator"]).get("/pilotage").get_data(as_text=True)
    pages["settings"] = as_user(world["cami"]).get("/m/notifications").get_data(as_text=True)
    admin = as_user(world["admin"])
    admin.get("/admin/communautes")
    created = admin.post("/admin/communautes", {"name": "CPTS Est", "timezone": "Europe/Paris"})
    pages["communities"] = admin.get(created.headers.get("Location", "/admin/communautes")).get_data(as_text=True)
    assert "CPTS Est" in pages["communities"] and "1\u00a0h" in pages["communities"]
    assert "Identifiant ou mot de passe incorrect." in pages["sign-in refused"]
    loose = {name: found for name, html in pages.items() if (found := loose_spaces(html))}
    assert loose == {}


def test_the_check_finds_a_loose_space() -> None:
    assert loose_spaces("<p>CPTS : connectez-vous</p>") == ["CPTS : connectez"]
    assert loose_spaces('<p title="a : b">CPTS\u00a0: ok « <script>x ? y</script></p>') == ["CPTS\u00a0: ok « "]


def test_one_acceptance_rate_per_month_on_the_dashboard_in_the_pdf_the_csv_and_the_xlsx(
    app: Any, make: Any, clock: Any, as_user: Any
) -> None:
    """Issue 22: December showed 75,0 % on the dashboard and 73,6 % in the PDF (accepted / opened there, accepted /
    (opened - cancelled) here). One function computes each month's rate; the four places show it, month by month."""
    import csv
    import io
    from datetime import timedelta

    from openpyxl import load_workbook
    from sqlalchemy import select

    from dispatch import french, texts
    from dispatch.communities.models import Community
    from dispatch.db import db
    from dispatch.demo import load_demo
    from dispatch.reports.service import compute_report
    from tests.reports.test_pdf import flat, words

    load_demo(app, history=True)
    community = db.session.scalar(select(Community).where(Community.name == "CPTS Champigny"))
    assert community is not None
    coordinator = as_user(make.member(community, "coordinator"))
    operator = make.member(community, "operator")
    for _ in range(3):  # cancelled today: this month's rate leaves them out of its denominator
        opened = make.open(operator, community)
        assert make.call("POST", f"/requests/{opened['id']}/cancel", operator, json={"reason": "Doublon"}).status_code == 200
    today = texts.local(clock.now(), community.timezone).date()
    start = today.replace(day=1) - timedelta(days=330)
    query = f"from={start}&to={today}"
    report = compute_report(community=community, start=start, end=today)
    months = [row for row in report["by_month"] if row["opened"]]
    assert len(months) >= 11 and any(row["cancelled"] for row in months)  # a cancelled request makes the two differ
    assert any(row["accepted"] / row["opened"] != row["acceptance_rate"] for row in months)

    html = coordinator.get(f"/pilotage?{query}").get_data(as_text=True)
    chart = html[html.index('<svg class="chart months"') :].split("</svg>")[0]
    shown = [int(text.split("\u202f")[0]) for text in re.findall(r'class="val" text-anchor="middle">([^<]+)<', chart)]
    assert shown == [round(row["acceptance_rate"] * 100) for row in months]

    pdf = words(coordinator.http.get(f"/pilotage/rapport.pdf?{query}").data)
    for row in months:
        rate = french.percent(row["acceptance_rate"])
        line = f"{french.month(row['month'])} {row['opened']} {row['accepted']} {row['expired']} {rate}"
        assert flat(line) in pdf.replace("\u202f", ""), line

    raw = coordinator.http.get(f"/pilotage/rapport.csv?table=by_month&{query}").data.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(raw), delimiter=";"))
    assert table[0][-1] == "Taux d'acceptation"
    by_csv = [float(line[-1].replace(",", ".")) for line in table[1:] if line[1] != "0"]
    assert by_csv == [round(row["acceptance_rate"] * 100, 2) for row in months]

    book = load_workbook(io.BytesIO(coordinator.http.get(f"/pilotage/rapport.xlsx?{query}").data))
    cells = [line[-1] for line in book["Par mois"].iter_rows(min_row=2) if line[1].value]
    assert [cell.value for cell in cells] == pytest.approx([row["acceptance_rate"] for row in months])
    assert all(cell.number_format == "0.00%" for cell in cells)
