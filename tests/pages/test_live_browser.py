"""How the live pages poll, in a headless Chromium at 390 × 844 (issue 24, point 7): 304s while nothing moves, every
30 s while hidden and at once when shown again, a Retry-After honoured, and a push that wakes a hidden phone page.

Headless Chromium never hides a page by itself: the tests hide it as the browser would for the page's script
(`document.visibilityState` "hidden" and a `visibilitychange` event). The push is a real one, delivered to the page's
service worker by DevTools, as the browser's push service would.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.pages.test_browser import browser, server, sign_in, wait_for  # noqa: F401 -- fixtures used below
from tests.pages.test_phone_browser import HEIGHT, WIDTH, _deliver, world  # noqa: F401 -- the phone's world

pytestmark = pytest.mark.browser

# The digest polls the page made so far: [path, HTTP status, start in ms since the page's start].
POLLS = """
return performance.getEntriesByType('resource').filter(e => /\\/etat$/.test(e.name))
  .map(e => [new URL(e.name).pathname, e.responseStatus, Math.round(e.startTime)]);
"""
HIDE = """
Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
document.dispatchEvent(new Event('visibilitychange'));
"""
SHOW = """
delete document.visibilityState; delete document.hidden;
document.dispatchEvent(new Event('visibilitychange'));
"""


def polls(driver: Any) -> list[list[Any]]:
    return driver.execute_script(POLLS)  # type: ignore[no-any-return]


def test_a_visible_page_gets_304s_a_hidden_one_polls_every_30_s_and_polls_at_once_when_shown(
    world: dict[str, Any],  # noqa: F811 -- the shared fixture
    server: str,  # noqa: F811 -- the shared fixture
    browser: Any,  # noqa: F811 -- the shared fixture
) -> None:
    phone = browser("hidden", WIDTH, HEIGHT)
    sign_in(phone, server, world["gp"].user.login, "/m/")
    time.sleep(3.5)
    visible = polls(phone)
    assert len(visible) >= 3  # about one a second
    assert {status for _, status, _ in visible[1:]} == {304}  # nothing moved: answered from the counter
    phone.execute_script(HIDE)
    hidden_at, before = time.monotonic(), len(polls(phone))
    time.sleep(5)
    assert len(polls(phone)) - before <= 1  # at most the poll that was on its way
    phone.execute_script(SHOW)
    wait_for(phone, lambda d: len(polls(d)) >= before + 1, timeout=2)
    assert time.monotonic() - hidden_at < 30


def test_a_retry_after_is_honoured(
    world: dict[str, Any],  # noqa: F811 -- the shared fixture
    server: str,  # noqa: F811 -- the shared fixture
    browser: Any,  # noqa: F811 -- the shared fixture
) -> None:
    phone = browser("retry", WIDTH, HEIGHT)
    sign_in(phone, server, world["gp"].user.login, "/m/")
    # The server says it is busy for 4 s (503 with Retry-After), once; every call to the digest is noted.
    phone.execute_script(
        """
        window.__calls = []; const real = window.fetch; let busy = true;
        window.fetch = function (url, options) {
          if (!/\\/etat$/.test(String(url))) { return real.apply(this, arguments); }
          window.__calls.push(Date.now());
          if (busy) { busy = false; return Promise.resolve(new Response('', {status: 503, headers: {'Retry-After': '4'}})); }
          return real.apply(this, arguments);
        };
        """
    )
    wait_for(phone, lambda d: len(d.execute_script("return window.__calls")) >= 3, timeout=10)
    calls = phone.execute_script("return window.__calls")
    assert calls[1] - calls[0] >= 3900  # the pause asked for
    assert calls[2] - calls[1] < 2500  # then every second again
    assert not phone.execute_script(
        "return document.getElementById('live-status') && !document.getElementById('live-status').hidden"
    )


def test_a_push_wakes_a_hidden_phone_page_at_once(
    world: dict[str, Any],  # noqa: F811 -- the shared fixture
    server: str,  # noqa: F811 -- the shared fixture
    browser: Any,  # noqa: F811 -- the shared fixture
    make: Any,
) -> None:
    from selenium.webdriver.common.by import By

    phone = browser("push-wakes", WIDTH, HEIGHT)
    sign_in(phone, server, world["gp"].user.login, "/m/")
    phone.execute_async_script("const done = arguments[0]; navigator.serviceWorker.ready.then(() => done());")
    phone.execute_cdp_cmd("Browser.grantPermissions", {"origin": server, "permissions": ["notifications"]})
    phone.execute_cdp_cmd("ServiceWorker.enable", {})
    cards = "a.offer-card:not(.mine)"
    assert len(phone.find_elements(By.CSS_SELECTOR, cards)) == 1
    time.sleep(1.5)  # the first poll went: the page now polls every 30 s
    phone.execute_script(HIDE)
    time.sleep(1.5)
    opened = make.open(world["operator"], world["community"], treating=world["gp"])
    time.sleep(1.5)
    assert len(phone.find_elements(By.CSS_SELECTOR, cards)) == 1  # hidden: not asked yet
    started = time.monotonic()
    _deliver(phone, server, {"type": "offer", "request_id": str(opened["id"]), "title": "Nouvelle demande", "body": "ORL"})
    # Hidden, the page's next poll of its own is 30 s after its last: an answer within 10 s is the push's doing.
    wait_for(phone, lambda d: len(d.find_elements(By.CSS_SELECTOR, cards)) == 2, timeout=10)
    assert time.monotonic() - started < 10
