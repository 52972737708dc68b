/* SNP Dispatch service worker for the physician app: served at /m/sw.js, scope /m/. No build step.
 *
 * - Precaches the offline shell (/m/offline) and the static css/js/icons.
 * - /m/ navigations are network-first. A page is stored for offline use ONLY when the server marks
 *   it with the header `X-Dispatch-Cacheable: anonymised` (and only the offers list, /m/, is kept);
 *   anything else is never written to the cache, so no patient data can end up on the device.
 * - Shows Web Push offers and withdrawals as notifications (payload: the FCM data object of the
 *   contract, plus title/body) and tells open pages that their offers changed.
 * - Deep-links a notification click to the request's page.
 *
 * Pages can post to the worker: {type: "skip-waiting"} to activate a new version at once, and
 * {type: "purge"} (on sign-out) to forget the cached list.
 */
"use strict";

const VERSION = "2";
const SHELL_CACHE = "snp-shell-v" + VERSION;
const PAGES_CACHE = "snp-pages-v" + VERSION;
const SCOPE = "/m/";
const LIST_URL = "/m/"; // the offers list: the only page ever kept, under this key
const OFFLINE_URL = "/m/offline";
const CACHEABLE_HEADER = "X-Dispatch-Cacheable";
const CACHEABLE_VALUE = "anonymised";
const STATIC_FILES = [
  "/static/style.css",
  "/static/app.js",
  "/static/manifest.webmanifest",
  "/static/icon-192.png",
  "/static/icon-512.png",
  "/static/icon-maskable-512.png",
  "/static/apple-touch-icon.png",
  "/static/favicon.png",
];
const ICON = "/static/icon-192.png";
const VIBRATE = [300, 120, 300, 120, 600];

// --- Caching -------------------------------------------------------------------------------------------------------

/** Tell whether the server allowed this response to be stored on the device. */
function isCacheable(response) {
  return Boolean(response && response.ok && response.type === "basic" && !response.redirected &&
    (response.headers.get(CACHEABLE_HEADER) || "").trim().toLowerCase() === CACHEABLE_VALUE);
}

/** Fetch one shell file bypassing the HTTP cache and store it when allowed; never fails the install. */
async function precache(cache, url) {
  try {
    const response = await fetch(new Request(url, { cache: "reload", credentials: "same-origin" }));
    // Static files carry no data; a page (the offline shell) must say it may be kept.
    const allowed = url.startsWith("/static/") ? response.ok : isCacheable(response);
    if (allowed) {
      await cache.put(url, response);
    }
  } catch (error) {
    // Offline during install: the next install (a new version) will try again.
  }
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL_CACHE);
    await Promise.all([OFFLINE_URL, ...STATIC_FILES].map((url) => precache(cache, url)));
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const keep = new Set([SHELL_CACHE, PAGES_CACHE]);
    const names = await caches.keys();
    await Promise.all(names.filter((n) => n.startsWith("snp-") && !keep.has(n)).map((n) => caches.delete(n)));
    await self.clients.claim();
  })());
});

/** Network first for /m/ pages; the last anonymised list, then the offline shell, when offline. */
async function navigate(request) {
  const path = new URL(request.url).pathname;
  const isList = path === LIST_URL;
  try {
    const response = await fetch(request);
    if (isList) {
      const pages = await caches.open(PAGES_CACHE);
      if (isCacheable(response)) {
        await pages.put(LIST_URL, response.clone());
      } else {
        // Signed out, another user, or a list the server did not mark: forget the old copy.
        await pages.delete(LIST_URL);
      }
    }
    return response;
  } catch (error) {
    if (isList) {
      const cached = await caches.match(LIST_URL, { cacheName: PAGES_CACHE });
      if (isCacheable(cached)) { // checked again on the way out: never serve an unmarked page
        return cached;
      }
    }
    const offline = await caches.match(OFFLINE_URL, { cacheName: SHELL_CACHE });
    return offline || new Response("Hors connexion. Réessayez lorsque le réseau sera revenu.", {
      status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" },
    });
  }
}

/** Serve a shell file from the cache at once and refresh it in the background (stale-while-revalidate). */
async function staticFile(event) {
  const cache = await caches.open(SHELL_CACHE);
  const path = new URL(event.request.url).pathname;
  const cached = await cache.match(path);
  const refresh = fetch(event.request).then(async (response) => {
    if (response.ok && response.type === "basic") {
      await cache.put(path, response.clone());
    }
    return response;
  });
  if (cached) {
    event.waitUntil(refresh.catch(() => undefined));
    return cached;
  }
  return refresh;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") {
    return;
  }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (request.mode === "navigate" && url.pathname.startsWith(SCOPE)) {
    event.respondWith(navigate(request));
  } else if (STATIC_FILES.includes(url.pathname)) {
    event.respondWith(staticFile(event));
  }
  // Anything else (JSON, forms, other pages) goes to the network untouched and is never stored.
});

self.addEventListener("message", (event) => {
  const message = event.data || {};
  if (message.type === "skip-waiting") {
    self.skipWaiting();
  } else if (message.type === "purge") {
    event.waitUntil(caches.delete(PAGES_CACHE));
  }
});

// --- Push ----------------------------------------------------------------------------------------------------------

/** Return the request id of a payload if it is a plain integer, else "". */
function requestId(data) {
  const id = String(data.request_id || "");
  return /^[0-9]{1,18}$/.test(id) ? id : "";
}

/** Return "15:40" for an ISO instant, in the device's time zone. */
function clockTime(iso) {
  const when = new Date(iso);
  return isNaN(when.getTime()) ? "" : when.toLocaleTimeString("fr-FR", { hour: "2-digit", minute: "2-digit" });
}

const WITHDRAWN_BODY = {
  accepted: "Un confrère a accepté cette demande.",
  cancelled: "La demande a été annulée.",
  expired: "Le délai de réponse est passé.",
  unavailable: "Votre compte n’est plus actif\u00a0: la demande est proposée aux autres médecins.",
};

/** Tell every open page of the app that a request's offers changed, so it can refresh. */
async function broadcast(id) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) {
    client.postMessage({ type: "offers-changed", request_id: id });
  }
}

/** Show an offer; every push must show something (Safari revokes silent subscriptions). */
async function showOffer(data, id) {
  const url = id ? "/m/requests/" + id : LIST_URL;
  const motive = data.motive || "demande de soins non programmés";
  const until = clockTime(data.expires_at);
  const options = {
    body: data.body || [data.city, until ? "Réponse avant " + until : ""].filter(Boolean).join(" · "),
    tag: id || "snp-dispatch",
    renotify: true, // a new phase of the same request alerts again
    requireInteraction: true,
    vibrate: VIBRATE,
    icon: ICON,
    badge: ICON,
    lang: "fr",
    dir: "ltr",
    timestamp: Date.now(),
    data: { url: url, request_id: id, type: "offer" },
  };
  if ((self.Notification && Notification.maxActions) > 0) {
    options.actions = [
      { action: "voir", title: "Voir" },
      { action: "refuser", title: "Refuser" },
    ];
  }
  await self.registration.showNotification(data.title || "Nouvelle demande : " + motive, options);
}

/** Replace a withdrawn offer's notification silently, then close it where the browser allows. */
async function showWithdrawal(data, id) {
  const tag = id || "snp-dispatch";
  await self.registration.showNotification("Demande prise en charge", {
    body: WITHDRAWN_BODY[data.reason] || "Cette demande ne vous est plus proposée.",
    tag: tag,
    renotify: false,
    silent: true,
    icon: ICON,
    badge: ICON,
    lang: "fr",
    dir: "ltr",
    data: { url: id ? "/m/requests/" + id : LIST_URL, request_id: id, type: "offer_withdrawn" },
  });
  const shown = await self.registration.getNotifications({ tag: tag });
  shown.forEach((notification) => notification.close());
}

self.addEventListener("push", (event) => {
  event.waitUntil((async () => {
    let data = {};
    try {
      data = event.data ? event.data.json() : {};
    } catch (error) {
      data = {};
    }
    const id = requestId(data);
    if (data.type === "offer") {
      await showOffer(data, id);
    } else if (data.type === "offer_withdrawn") {
      await showWithdrawal(data, id);
    } else {
      // A test from the settings page, or a kind this version does not know: its own words when it has them.
      const text = (value, fallback) => (typeof value === "string" && value ? value.slice(0, 200) : fallback);
      await self.registration.showNotification(text(data.title, "SNP Dispatch"), {
        body: text(data.body, "Du nouveau sur vos demandes."), tag: id || (data.type === "test" ? "snp-test" : "snp-dispatch"),
        icon: ICON, badge: ICON, lang: "fr",
        data: { url: id ? "/m/requests/" + id : LIST_URL, request_id: id },
      });
    }
    await broadcast(id);
  })());
});

// --- Clicks --------------------------------------------------------------------------------------------------------

/** Focus the app on `url` (opening it if needed); for "refuser", ask the page to start a refusal. */
async function openRequest(url, id, refuse) {
  const target = new URL(url, self.location.origin);
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const inScope = windows.filter((c) => new URL(c.url).pathname.startsWith(SCOPE));
  const onPage = inScope.find((c) => new URL(c.url).pathname === target.pathname);
  if (onPage) {
    await onPage.focus();
    if (refuse) {
      onPage.postMessage({ type: "refuse-request", request_id: id });
    }
    return;
  }
  if (refuse) {
    target.searchParams.set("action", "refuser"); // the page opens its refusal form
  }
  const other = inScope.find((c) => "navigate" in c);
  if (other) {
    try {
      const moved = await other.navigate(target.href);
      if (moved) {
        await moved.focus();
        return;
      }
    } catch (error) {
      // Not controlled by this worker yet: open a window instead.
    }
  }
  await self.clients.openWindow(target.href);
}

self.addEventListener("notificationclick", (event) => {
  const notification = event.notification;
  const data = notification.data || {};
  const id = requestId(data);
  notification.close();
  const url = id ? "/m/requests/" + id : LIST_URL; // rebuilt here: never follow a URL from elsewhere
  event.waitUntil(openRequest(url, id, Boolean(id) && event.action === "refuser"));
});

// The browser renewed the subscription: open pages register it again with the server.
self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    windows.forEach((client) => client.postMessage({ type: "subscription-changed" }));
  })());
});
