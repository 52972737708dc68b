"""Control characters (issue 14, point 7): refused on input (422), newlines and tabs kept only in multi-line texts.

A CR/LF in the patient's name went to the synthesis mail's subject: the synthesis could never be built.
"""

from __future__ import annotations

from typing import Any

import pytest

from dispatch.db import db
from dispatch.requests.models import Request
from tests.pages.conftest import PageClient

SINGLE_LINE_BAD = ["Martin\r\nBcc: x@evil.example", "Mar\x00tin", "Mar\ttin", "Mar\x1b[31mtin", "Mar\u2028tin", "Mar\u202etin"]


@pytest.mark.parametrize("value", SINGLE_LINE_BAD)
def test_a_name_with_a_control_character_is_refused(make: Any, world: dict[str, Any], value: str) -> None:
    a = world["a"]
    body = make.request_body(a["community"])
    body["patient"]["last_name"] = value
    response = make.call("POST", "/requests", a["operator"], json=body)
    assert response.status_code == 422, response.json
    assert "patient.last_name" in str(response.json["errors"]) or "last_name" in str(response.json["errors"])
    assert db.session.query(Request).count() == 0


def test_single_line_fields_of_members_and_treating_gps_are_checked_too(make: Any, world: dict[str, Any]) -> None:
    a = world["a"]
    member = {"role": "operator", "login": "nouvel\nop", "password": "correct horse battery", "name": "Op\x07"}
    response = make.call("POST", f"/communities/{a['community'].id}/members", a["coordinator"], json=member)
    assert response.status_code == 422 and {"login", "name"} <= set(response.json["errors"])
    body = make.request_body(a["community"], treating_physician={"status": "declared", "rpps": "10000000009\n", "name": "Dr\rX"})
    body["patient"]["phone"] = "0612345678\n"
    response = make.call("POST", "/requests", a["operator"], json=body)
    assert response.status_code == 422
    flat = str(response.json["errors"])
    assert "rpps" in flat and "name" in flat and "phone" in flat


def test_multi_line_texts_keep_their_newlines_and_tabs(make: Any, world: dict[str, Any]) -> None:
    a = world["a"]
    body = make.request_body(a["community"], description="Otalgie droite\r\n\tfièvre 38,5")
    opened = make.call("POST", "/requests", a["operator"], json=body)
    assert opened.status_code == 201 and opened.json["description"] == "Otalgie droite\n\tfièvre 38,5"
    body = make.request_body(a["community"], description="Otalgie\x00")
    assert make.call("POST", "/requests", a["operator"], json=body).status_code == 422


def test_the_console_form_says_so_in_french(app: Any, world: dict[str, Any]) -> None:
    a = world["a"]
    client = PageClient(app)
    assert client.sign_in(a["operator"].login).status_code == 302
    client.get("/console")  # the new session's CSRF token
    form = {
        "triage": "snp",
        "source": "cot",
        "motive": "ent",
        "patient.first_name": "Lucie",
        "patient.last_name": "Martin\r\nBcc: x@evil.example",
        "treating_physician.status": "none",
    }
    response = client.post("/console", form)
    assert response.status_code == 422
    assert "Caractères de contrôle interdits" in response.get_data(as_text=True)
    assert db.session.query(Request).count() == 0


INVISIBLE = ["Mar\u200btin", "Mar\u200ctin", "Mar\u200dtin", "Mar\u2060tin", "\ufeffMartin", "Mar\u200etin", "Mar\u2067tin"]


@pytest.mark.parametrize("value", INVISIBLE)
def test_a_name_with_an_invisible_character_is_refused_in_french(make: Any, world: dict[str, Any], value: str) -> None:
    """Issue 23 point 12: 'Mar<U+200B>tin' looks like Martin and is another patient, another member."""
    a = world["a"]
    body = make.request_body(a["community"])
    body["patient"]["last_name"] = value
    response = make.call("POST", "/requests", a["operator"], json=body)
    assert response.status_code == 422 and "Caractères invisibles interdits" in str(response.json["errors"]), response.json
    body = make.request_body(a["community"])
    body["patient"]["first_name"] = value
    assert make.call("POST", "/requests", a["operator"], json=body).status_code == 422
    assert db.session.query(Request).count() == 0
    member = {"role": "operator", "login": "nouvel.op", "password": "correct horse battery", "name": value}
    response = make.call("POST", f"/communities/{a['community'].id}/members", a["coordinator"], json=member)
    assert response.status_code == 422 and "Caractères invisibles interdits" in str(response.json["errors"]["name"])
    path = f"/communities/{a['community'].id}/members/{a['operator'].id}"
    edit = make.call("PATCH", path, a["coordinator"], json={"name": value})
    assert edit.status_code == 422 and "name" in edit.json["errors"]


def test_the_console_refuses_an_invisible_character_in_french(app: Any, world: dict[str, Any]) -> None:
    a = world["a"]
    client = PageClient(app)
    assert client.sign_in(a["operator"].login).status_code == 302
    client.get("/console")
    form = {"triage": "snp", "source": "cot", "motive": "ent", "patient.first_name": "Lu\u200bcie", "patient.last_name": "Martin"}
    response = client.post("/console", {**form, "treating_physician.status": "none"})
    assert response.status_code == 422
    assert "Caractères invisibles interdits dans un nom" in response.get_data(as_text=True)
    assert db.session.query(Request).count() == 0
    plain = client.post("/console", {**form, "patient.first_name": "Lucie", "treating_physician.status": "none"})
    assert "Caractères invisibles" not in plain.get_data(as_text=True)
