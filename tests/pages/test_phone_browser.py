"""The physician's app in a headless Chromium at 390 × 844: installable, offline shell, live pages, thumb-sized."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from dispatch.db import db
from dispatch.requests.models import Request
from tests.pages.test_browser import (  # noqa: F401 -- fixtures used below
    browser,
    count_polls,
    followed_within_two_polls,
    no_horizontal_scroll,
    server,
    sign_in,
    wait_for,
)

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 390, 844
# Every visible tap target and its size; a radio or checkbox counts by the label that holds it.
TAP_TARGETS = """
const small = [];
for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')) {
  if (!el.offsetParent && getComputedStyle(el).position !== 'fixed') { continue; }
  const target = (el.type === 'radio' || el.type === 'checkbox') ? (el.closest('label') || el) : el;
  const box = target.getBoundingClientRect();
  if (box.width === 0 && box.height === 0) { continue; }
  if (box.height < 44 || box.width < 44) {
    small.push((el.id || el.tagName) + ' "' + (el.textContent || el.value || '').trim().slice(0, 30) + '" ' +
      Math.round(box.width) + 'x' + Math.round(box.height));
  }
}
return small;
"""
IN_VIEW = "const b = document.getElementById(arguments[0]).getBoundingClientRect(); return b.top >= 0 && b.bottom <= innerHeight;"


@pytest.fixture
def stoppable(app: Any) -> Iterator[Any]:
    """Serve the app on loopback like `server`, with a way to take the network away (the worker's fetches fail)."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield http
    http.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def world(make: Any) -> dict[str, Any]:
    community = make.community()
    operator = make.member(community, "operator")
    gp = make.member(community, "physician", name="Dr Paul Durand", address="12 rue Jaurès, Champigny")
    other = make.member(community, "physician", name="Dr Awa Diallo", kind="cami")
    offered = make.open(operator, community, treating=gp)
    taken = make.open(operator, community)
    assert make.accept(gp, taken["id"], minutes=30).status_code == 200
    return {"community": community, "operator": operator, "gp": gp, "other": other, "offered": offered, "taken": taken}


def test_the_app_is_installable_registers_its_worker_and_shows_the_shell_offline(
    world: dict[str, Any],
    stoppable: Any,
    browser: Any,  # noqa: F811 -- the fixture
) -> None:
    from selenium.webdriver.common.by import By

    base = f"http://127.0.0.1:{stoppable.server_port}"
    phone = browser("pwa", WIDTH, HEIGHT)
    sign_in(phone, base, world["gp"].user.login, "/m/")
    manifest = phone.execute_async_script(
        "const done = arguments[0]; fetch(document.querySelector('link[rel=manifest]').href).then(r => r.json()).then(done);"
    )
    assert manifest["start_url"] == "/m/" and manifest["display"] == "standalone"
    scope = phone.execute_async_script("const done = arguments[0]; navigator.serviceWorker.ready.then(r => done(r.scope));")
    assert scope == base + "/m/"
    assert phone.execute_cdp_cmd("Page.getInstallabilityErrors", {})["installabilityErrors"] == []
    phone.get(base + "/m/")  # now controlled by the worker, which keeps this anonymised list
    wait_for(phone, lambda d: d.execute_script("return !!navigator.serviceWorker.controller"))
    # DevTools' offline emulation does not reach the worker's own fetches: the base goes away instead.
    stoppable.shutdown()
    phone.get(f"{base}/m/requests/{world['taken']['id']}")  # never cached: it names the patient
    assert phone.find_element(By.CSS_SELECTOR, ".offline-banner").text == "Hors ligne"
    assert "Lucie" not in phone.page_source and "Martin" not in phone.page_source
    phone.get(base + "/m/")  # the last anonymised list
    assert "Demandes ouvertes" in phone.page_source and "ORL" in phone.page_source
    assert "Lucie" not in phone.page_source and "Martin" not in phone.page_source


def test_the_list_and_an_open_offer_follow_the_server_within_two_polls(
    world: dict[str, Any],
    server: str,  # noqa: F811 -- the shared fixture
    browser: Any,  # noqa: F811 -- the shared fixture
    make: Any,
    clock: Any,  # noqa: F811 -- the shared fixtures
) -> None:
    from selenium.webdriver.common.by import By

    phone = browser("live", WIDTH, HEIGHT)
    sign_in(phone, server, world["gp"].user.login, "/m/")
    cards = "a.offer-card:not(.mine)"
    assert len(phone.find_elements(By.CSS_SELECTOR, cards)) == 1
    count_polls(phone)
    make.open(world["operator"], world["community"], treating=world["gp"])
    followed_within_two_polls(phone, lambda d: len(d.find_elements(By.CSS_SELECTOR, cards)) == 2)

    clock.advance(hours=1)
    make.tick()  # the community may now take the first request
    other = browser("other", WIDTH, HEIGHT)
    rid = world["offered"]["id"]
    sign_in(other, server, world["other"].user.login, f"/m/requests/{rid}")
    assert other.find_element(By.ID, "closed-banner").is_displayed() is False
    count_polls(other)
    assert make.accept(world["gp"], rid, minutes=30).status_code == 200
    banner = followed_within_two_polls(
        other, lambda d: d.find_element(By.ID, "closed-banner") if d.find_element(By.ID, "closed-banner").is_displayed() else None
    )
    assert banner.text == "Un confrère a accepté cette demande : elle n'est plus à prendre."
    assert not other.find_element(By.ID, "answer-bar").is_displayed()


def test_every_physician_page_fits_the_phone_with_thumb_sized_targets(world: dict[str, Any], server: str, browser: Any) -> None:  # noqa: F811 -- the shared fixtures
    phone = browser("taps", WIDTH, HEIGHT)
    sign_in(phone, server, world["gp"].user.login, "/m/")
    pages = [
        "/m/",
        f"/m/requests/{world['offered']['id']}",
        f"/m/requests/{world['taken']['id']}",
        "/m/patients",
        "/m/notifications",
        "/m/offline",
    ]
    for path in pages:
        phone.get(server + path)
        assert no_horizontal_scroll(phone, WIDTH), path
        assert phone.execute_script(TAP_TARGETS) == [], path
        if path == pages[1]:  # both answers without scrolling
            assert phone.execute_script(IN_VIEW, "accept") and phone.execute_script(IN_VIEW, "refuse")
        if path == pages[2]:
            assert phone.execute_script(IN_VIEW, "call")


NOTIFICATIONS = """
const tag = arguments[0], done = arguments[arguments.length - 1];
navigator.serviceWorker.ready
  .then(r => r.getNotifications({tag: tag}))
  .then(list => done(list.map(n => ({title: n.title, body: n.body, tag: n.tag, sticky: n.requireInteraction}))));
"""


def test_a_push_shows_the_offer_under_its_tag_without_identity_and_the_withdrawal_replaces_it(
    world: dict[str, Any],
    server: str,  # noqa: F811 -- the fixture
    browser: Any,  # noqa: F811 -- the fixture
) -> None:
    """The browser's push service, played by DevTools (ServiceWorker.deliverPushMessage), wakes the worker."""
    from dispatch.db import db
    from dispatch.requests.messages import offer_payload
    from dispatch.requests.models import Request

    phone = browser("push", WIDTH, HEIGHT)
    sign_in(phone, server, world["other"].user.login, "/m/")
    scope = phone.execute_async_script("const done = arguments[0]; navigator.serviceWorker.ready.then(r => done(r.scope));")
    assert scope == server + "/m/"
    phone.execute_cdp_cmd("Browser.grantPermissions", {"origin": server, "permissions": ["notifications"]})
    phone.execute_cdp_cmd("ServiceWorker.enable", {})
    request = db.session.get(Request, world["offered"]["id"])
    assert request is not None
    offer = offer_payload(request, phase="community")  # what the outbox sends
    tag = str(request.id)
    registration = _deliver(phone, server, {**offer["data"], "title": offer["title"], "body": offer["body"]})
    shown = wait_for(phone, lambda d: d.execute_async_script(NOTIFICATIONS, tag) or None)
    assert len(shown) == 1 and shown[0]["tag"] == tag and shown[0]["sticky"] is True
    for secret in ("Lucie", "Martin", "1988", "06 12", "+336"):
        assert secret not in json.dumps(shown)
    _deliver(phone, server, {"type": "offer_withdrawn", "request_id": tag, "reason": "accepted"}, registration)
    wait_for(phone, lambda d: all(n["title"] != shown[0]["title"] for n in d.execute_async_script(NOTIFICATIONS, tag)))


def _deliver(phone: Any, origin: str, data: dict[str, Any], registration: str | None = None) -> str:
    """Deliver a push to the page's worker; DevTools names registrations by small numbers: try the first few."""
    from selenium.common.exceptions import WebDriverException

    for candidate in [registration] if registration else [str(n) for n in range(10)]:
        try:
            phone.execute_cdp_cmd(
                "ServiceWorker.deliverPushMessage", {"origin": origin, "registrationId": candidate, "data": json.dumps(data)}
            )
        except WebDriverException:
            continue
        return candidate
    raise AssertionError("no service worker registration took the push")


# The bottom of an element sits above the fixed answer bar (or there is no bar on the page).
ABOVE_BAR = """
const box = arguments[0].getBoundingClientRect(), bar = document.getElementById('answer-bar');
const top = bar ? bar.getBoundingClientRect().top : innerHeight;
return box.top >= 0 && box.bottom <= top;
"""


def test_a_time_is_chosen_errors_stay_in_view_and_a_refusal_is_confirmed(
    world: dict[str, Any],
    server: str,  # noqa: F811 -- the shared fixture
    browser: Any,  # noqa: F811 -- the shared fixture
    clock: Any,
    make: Any,
) -> None:
    """Issue 22, items 6 and 9: no appointment preset to "now", the error about it in view above the answer bar,
    "Refuser" asks once; and a birth date missing at the outcome brings its field into view."""
    from selenium.webdriver.common.by import By

    phone = browser("choose", WIDTH, HEIGHT)
    rid = world["offered"]["id"]
    sign_in(phone, server, world["gp"].user.login, f"/m/requests/{rid}")
    assert phone.find_element(By.ID, "f-time").get_attribute("value") == ""
    assert not any(radio.is_selected() for radio in phone.find_elements(By.CSS_SELECTOR, "input[name=in]"))
    phone.find_element(By.ID, "accept").click()  # no time chosen
    wait_for(phone, lambda d: d.find_elements(By.ID, "err-appointment_at"))
    error = phone.find_element(By.ID, "err-appointment_at")
    assert "Choisissez l'heure du rendez-vous" in error.text
    assert phone.execute_script(ABOVE_BAR, error), "the error is hidden under the answer bar"
    assert phone.execute_script(IN_VIEW, "accept")

    refuse, before = phone.find_element(By.ID, "refuse"), phone.current_url
    refuse.click()
    assert refuse.get_attribute("textContent") == "Confirmer le refus\u00a0?" and phone.current_url == before
    db.session.expire_all()
    assert db.session.get(Request, rid).state == "exclusive"  # one tap refuses nothing
    refuse.click()
    wait_for(phone, lambda d: "/m/?refusee=" in d.current_url)
    db.session.expire_all()
    assert db.session.get(Request, rid).state == "community"  # the treating GP's refusal opens the community

    # The outcome of a patient whose synthesis goes to an outside GP, without the birth date the CDA needs.
    outside = make.open(
        world["operator"],
        world["community"],
        patient={"first_name": "Zoé", "last_name": "Lefèvre", "phone": "0611223344"},
        treating_physician={"status": "declared", "name": "Dr Hors", "mssante": "dr.hors@medecin.mssante.fr"},
    )
    assert make.accept(world["gp"], outside["id"]).status_code == 200
    phone.get(f"{server}/m/requests/{outside['id']}")
    phone.find_element(By.CSS_SELECTOR, "input[name=outcome][value=seen]").click()
    phone.find_element(By.ID, "f-synthesis").send_keys("Angine virale.")
    phone.find_element(By.CSS_SELECTOR, "#outcome-form button[type=submit]").click()
    wait_for(phone, lambda d: d.find_elements(By.ID, "err-patient_birth_date"))
    assert phone.execute_script("return document.activeElement.id") == "f-birth"
    assert phone.execute_script(ABOVE_BAR, phone.find_element(By.ID, "f-birth"))


def test_no_test_notification_is_offered_while_this_phone_has_them_off_and_the_install_hint_goes_for_good(
    world: dict[str, Any],
    server: str,  # noqa: F811 -- the shared fixture
    browser: Any,  # noqa: F811 -- the shared fixture
) -> None:
    """Issue 22, item 11: the test button would say "partie" and nothing would show on this phone."""
    from selenium.webdriver.common.by import By

    phone = browser("off", WIDTH, HEIGHT)
    sign_in(phone, server, world["gp"].user.login, "/m/notifications")
    wait_for(phone, lambda d: d.find_element(By.ID, "notify-state").get_attribute("data-state") != "unknown")
    state = phone.find_element(By.ID, "notify-state").get_attribute("data-state")
    assert state != "granted"  # a headless browser that was never asked
    assert not phone.find_element(By.ID, "notify-test").is_enabled()
    assert phone.find_element(By.ID, "notify-test-off").is_displayed()
    assert phone.find_element(By.ID, "notify-test-state").get_attribute("value") == state

    # "Ne plus proposer" hides the install hint on this phone for good (a later visit does not bring it back).
    phone.get(server + "/m/")
    phone.execute_script("document.getElementById('install-hint').hidden = false;")  # as beforeinstallprompt shows it
    phone.find_element(By.ID, "install-never").click()
    assert not phone.find_element(By.ID, "install-hint").is_displayed()
    assert phone.execute_script("return localStorage.getItem('snp-install-dismissed')") == "1"


FAKE_PUSH = """
window.__push = {unsubscribed: 0, subscribedWith: null};
Object.defineProperty(Notification, 'permission', {get: () => 'granted'});
const held = new Uint8Array(65).fill(HELD);
const subscription = (key, name) => ({
  options: {applicationServerKey: key.buffer || key},
  unsubscribe: () => { window.__push.unsubscribed += 1; return Promise.resolve(true); },
  toJSON: () => ({endpoint: 'https://fcm.googleapis.com/fcm/send/' + name, keys: {p256dh: 'x', auth: 'y'}}),
});
const manager = {
  getSubscription: () => Promise.resolve(subscription(held, 'old')),
  subscribe: (options) => {
    window.__push.subscribedWith = Array.from(new Uint8Array(options.applicationServerKey));
    return Promise.resolve(subscription(options.applicationServerKey, 'new'));
  },
};
Object.defineProperty(navigator.serviceWorker, 'ready', {get: () => Promise.resolve({pushManager: manager})});
"""


@pytest.mark.parametrize("rotated", [True, False], ids=["key-rotated", "same-key"])
def test_a_subscription_made_with_a_rotated_vapid_key_is_replaced(
    world: dict[str, Any],
    server: str,  # noqa: F811 -- the shared fixture
    browser: Any,  # noqa: F811 -- the shared fixture
    rotated: bool,
) -> None:
    """After the service's VAPID key is rotated (docs/production.md), a phone's old subscription receives nothing:
    the page replaces it with one made with the current key; a subscription made with the current key is kept."""
    import base64

    current = [4] + [9] * 64  # the service's key now (an uncompressed P-256 point's length)
    key = base64.urlsafe_b64encode(bytes(current)).rstrip(b"=").decode()
    held = "new Uint8Array(65).fill(7)" if rotated else f"new Uint8Array({current})"
    # The page as the service would give it with that key (the test app has no VAPID key of its own).
    script = FAKE_PUSH.replace("new Uint8Array(65).fill(HELD)", held) + (
        "document.addEventListener('DOMContentLoaded', () => {"
        f" const box = document.getElementById('notifications'); if (box) {{ box.setAttribute('data-vapid-key', '{key}'); }} }});"
    )
    phone = browser(f"vapid-{rotated}", WIDTH, HEIGHT)
    sign_in(phone, server, world["gp"].user.login, "/m/")
    phone.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})
    phone.get(server + "/m/notifications")
    wait_for(
        phone,
        lambda d: (
            d.execute_script("return document.getElementById('notify-state').getAttribute('data-state')") in ("granted", "error")
        ),
    )
    pushed = phone.execute_script("return window.__push")
    if rotated:
        assert pushed["unsubscribed"] == 1 and pushed["subscribedWith"] == current
    else:
        assert pushed["unsubscribed"] == 0 and pushed["subscribedWith"] is None
