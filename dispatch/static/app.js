/* SNP Dispatch pages: countdowns, the console's live list, the treating GP search. No framework. */
(function () {
  "use strict";
  var offset = 0; // server time minus browser time, in ms: countdowns follow the server's clock

  function setServerNow(iso) { if (iso) { offset = Date.parse(iso) - Date.now(); } }
  function serverNow() { return Date.now() + offset; }

  function left(ms) {
    if (ms <= 0) { return "échue"; }
    var s = Math.floor(ms / 1000), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return (h > 0 ? h + " h " + two(m) + " min" : m + " min " + two(r) + " s");
  }

  function tick() {
    outcomeOpens();
    document.querySelectorAll(".countdown[data-deadline]").forEach(function (el) {
      var ms = Date.parse(el.getAttribute("data-deadline")) - serverNow();
      el.textContent = "reste " + left(ms);
      el.classList.toggle("soon", ms < 10 * 60 * 1000);
    });
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // The console's list of today's requests, refreshed without reloading.
  function live(table) {
    var url = table.getAttribute("data-url"), states = {};
    table.querySelectorAll("tbody tr[data-id]").forEach(function (tr) { states[tr.getAttribute("data-id")] = tr.getAttribute("data-state"); });
    var dismissed = JSON.parse(sessionStorage.getItem("snp-dismissed") || "[]");

    function render(data) {
      setServerNow(data.now);
      var body = el("tbody");
      if (!data.requests.length) {
        var tr = el("tr", "empty"), td = el("td", "", "Aucune demande aujourd'hui.");
        td.colSpan = 5; tr.appendChild(td); body.appendChild(tr);
      }
      data.requests.forEach(function (r) {
        var tr = el("tr"); tr.setAttribute("data-id", r.id); tr.setAttribute("data-state", r.state);
        if (states[r.id] !== undefined && states[r.id] !== r.state) { tr.className = "flash-row"; }
        states[r.id] = r.state;
        var first = el("td"), link = el("a", "", String(r.id)); link.href = r.url;
        first.appendChild(link); first.appendChild(el("br")); first.appendChild(el("small", "", r.opened));
        tr.appendChild(first);
        tr.appendChild(el("td", "", r.patient));
        tr.appendChild(el("td", "", r.motive));
        var state = el("td"); state.appendChild(el("span", "badge s-" + r.state, r.state_label));
        if (r.accepted_by) { state.appendChild(el("br")); state.appendChild(el("small", "", r.accepted_by + " · " + r.appointment)); }
        tr.appendChild(state);
        var due = el("td");
        if (r.deadline) { var c = el("span", "countdown", r.deadline_label); c.setAttribute("data-deadline", r.deadline); due.appendChild(c); }
        tr.appendChild(due);
        body.appendChild(tr);
      });
      table.replaceChild(body, table.tBodies[0]);
      banner(data.requests.filter(function (r) { return r.state === "expired" && !r.called_back && dismissed.indexOf(r.id) < 0; }));
      tick();
    }

    function banner(expired) {
      var box = document.getElementById("expired-banner");
      if (!box) { return; }
      box.textContent = "";
      expired.forEach(function (r) {
        var p = el("p"), text = el("span");
        text.appendChild(el("strong", "", "Demande n° " + r.id + " expirée sans médecin : rappelez le patient "));
        text.appendChild(document.createTextNode(r.patient + (r.phone ? " au " + r.phone : "") + "."));
        var ok = el("button", "", "Patient rappelé"); ok.type = "button";
        ok.addEventListener("click", function () {
          dismissed.push(r.id); sessionStorage.setItem("snp-dismissed", JSON.stringify(dismissed)); p.remove();
          if (!box.children.length) { box.hidden = true; }
        });
        p.appendChild(text); p.appendChild(ok); box.appendChild(p);
      });
      box.hidden = expired.length === 0;
    }

    function poll() {
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (res) { if (!res.ok) { throw new Error(res.status); } return res.json(); })
        .then(render).catch(function () { /* keep the last list; try again at the next beat */ });
    }
    poll();
    setInterval(poll, 3000);
  }

  // Finding the treating GP among the community's physicians.
  function search(input) {
    var list = document.getElementById("treating-results"), timer = null;
    var rpps = document.getElementById("f-treating_physician-rpps"), name = document.getElementById("f-treating_physician-name");
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      if (q.length < 2) { list.hidden = true; return; }
      timer = setTimeout(function () {
        fetch(input.getAttribute("data-url") + "&q=" + encodeURIComponent(q), { headers: { "Accept": "application/json" } })
          .then(function (res) { return res.json(); })
          .then(function (items) {
            list.textContent = "";
            if (!items.length) { list.appendChild(el("li", "", "Aucun médecin de la communauté : saisissez son nom et son adresse MSSanté.")); }
            items.forEach(function (p) {
              var li = el("li"); li.setAttribute("role", "option");
              li.appendChild(el("strong", "", p.name)); li.appendChild(document.createTextNode(" "));
              li.appendChild(el("small", "", p.rpps + " · " + p.kind + (p.available ? "" : " · indisponible")));
              li.addEventListener("click", function () {
                rpps.value = p.rpps; name.value = p.name; list.hidden = true; input.value = p.name;
                var declared = document.querySelector('input[name="treating_physician.status"][value="declared"]');
                if (declared) { declared.checked = true; declared.dispatchEvent(new Event("change", { bubbles: true })); }
              });
              list.appendChild(li);
            });
            list.hidden = false;
          });
      }, 250);
    });
  }

  function toggles() {
    var declared = document.querySelector(".js-declared");
    function showDeclared() {
      var checked = document.querySelector('input[name="treating_physician.status"]:checked');
      if (declared) { declared.hidden = !checked || checked.value !== "declared"; }
    }
    function showTriage() {
      var checked = document.querySelector('input[name="triage"]:checked'), submit = document.getElementById("open-submit");
      document.querySelectorAll(".js-triage-hint").forEach(function (p) { p.hidden = !checked || p.getAttribute("data-for") !== checked.value; });
      if (submit) { submit.textContent = checked && checked.value !== "snp" ? "Valider le tri (aucune demande)" : "Ouvrir la demande"; }
    }
    var role = document.getElementById("f-role"), physicianOnly = document.querySelector(".physician-only");
    function showPhysician() { if (role && physicianOnly) { physicianOnly.hidden = role.value !== "physician"; } }
    document.addEventListener("change", function (event) {
      var t = event.target;
      if (t.name === "treating_physician.status") { showDeclared(); }
      if (t.name === "triage") { showTriage(); }
      if (t === role) { showPhysician(); }
      if (t.classList && t.classList.contains("js-autosubmit")) { t.form.submit(); }
    });
    showDeclared(); showTriage(); showPhysician();
  }

  // ---- The physician's app: service worker, live list and offer, notifications, install, forms kept across sign-in.

  var POLL_MS = 1000; // the pages follow the server within 2 s: one small JSON read a second while visible
  var PENDING = "snp-pending-form";
  var installPrompt = null;

  function isIos() {
    return /iPad|iPhone|iPod/.test(navigator.userAgent) || (navigator.platform === "MacIntel" && navigator.maxTouchPoints > 1);
  }
  function standalone() {
    return (window.matchMedia && window.matchMedia("(display-mode: standalone)").matches) || navigator.standalone === true;
  }
  function csrf() {
    var input = document.querySelector('input[name="csrf_token"]');
    return input ? input.value : "";
  }
  function show(id, visible) { var node = document.getElementById(id); if (node) { node.hidden = !visible; } }

  function status(text) {
    var box = document.getElementById("live-status");
    if (!box) { return; }
    box.textContent = text || "";
    box.hidden = !text;
  }

  // Poll `url` every second while the page is visible; `onData` gets the JSON, `refresh()` polls at once.
  function poller(url, onData) {
    var busy = false, stopped = false;
    function poll() {
      if (busy || stopped || document.visibilityState === "hidden") { return; }
      busy = true;
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store" })
        .then(function (res) {
          if (res.status === 401) { stopped = true; window.location.reload(); return null; } // signs in, then back here
          if (!res.ok) { throw new Error(String(res.status)); }
          return res.json();
        })
        .then(function (data) { if (data) { status(""); setServerNow(data.now); if (onData(data) === false) { stopped = true; } } })
        .catch(function () { status("Hors ligne : la page se mettra à jour au retour du réseau."); })
        .then(function () { busy = false; });
    }
    setInterval(poll, POLL_MS);
    document.addEventListener("visibilitychange", poll);
    window.addEventListener("online", poll);
    return poll;
  }

  function liveList(box) {
    var signature = box.getAttribute("data-signature");
    return poller(box.getAttribute("data-url"), function (data) {
      if (data.signature !== signature) { window.location.replace(window.location.pathname); return false; }
      return true;
    });
  }

  function liveOffer(card) {
    if (card.getAttribute("data-open") !== "1") { return null; }
    return poller(card.getAttribute("data-url"), function (data) {
      if (data.mine) { window.location.reload(); return false; }
      if (data.open) {
        var countdown = card.querySelector(".countdown");
        if (countdown && data.deadline) { countdown.setAttribute("data-deadline", data.deadline); }
        return true;
      }
      closeOffer(card, data);
      return false;
    });
  }

  // The offer was taken, expired or cancelled: say so at once, and take the answer buttons away.
  function closeOffer(card, data) {
    var banner = document.getElementById("closed-banner"), badge = card.querySelector(".kicker .badge");
    banner.textContent = data.message || "Cette demande n'est plus ouverte.";
    banner.hidden = false;
    if (badge) { badge.className = "badge s-" + data.state; badge.textContent = data.label; }
    var deadline = card.querySelector(".deadline");
    if (deadline) { deadline.hidden = true; }
    ["accept-form", "refuse-form"].forEach(function (id) {
      var form = document.getElementById(id);
      if (form) { form.querySelectorAll("input, button").forEach(function (i) { i.disabled = true; }); form.classList.add("closed"); }
    });
    var bar = document.getElementById("answer-bar");
    if (bar) { bar.hidden = true; }
    card.setAttribute("data-open", "0");
    banner.scrollIntoView({ block: "nearest" });
  }

  function startRefusal() {
    var reason = document.getElementById("f-refuse");
    if (reason) { reason.scrollIntoView({ block: "center" }); reason.focus(); }
  }

  // Outcome form: it opens at the appointment time, as the server's clock says.
  function outcomeOpens() {
    var note = document.getElementById("outcome-opens"), fields = document.getElementById("outcome-fields");
    if (!note || !fields || !fields.disabled) { return; }
    if (serverNow() >= Date.parse(note.getAttribute("data-opens-at"))) {
      fields.disabled = false;
      note.textContent = "Indiquez si le patient est venu.";
      note.classList.add("done");
    }
  }

  // A form met an expired session: keep what was typed, and give it back on the page the sign-in returns to.
  function keepForms() {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form.closest("main") || form.getAttribute("data-keep") === "no" || (form.method || "").toLowerCase() !== "post") { return; }
      var fields = [];
      Array.prototype.forEach.call(form.elements, function (i) {
        if (!i.name || i.name === "csrf_token" || i.type === "password" || ((i.type === "radio" || i.type === "checkbox") && !i.checked)) { return; }
        fields.push([i.name, i.value]);
      });
      try { sessionStorage.setItem(PENDING, JSON.stringify({ action: new URL(form.action).pathname, fields: fields })); } catch (e) { /* private mode */ }
    }, true);
    var saved = null;
    try { saved = JSON.parse(sessionStorage.getItem(PENDING) || "null"); } catch (e) { saved = null; }
    if (!saved || document.getElementById("login")) { return; } // the sign-in page keeps it for the page after
    sessionStorage.removeItem(PENDING);
    if (new URLSearchParams(window.location.search).get("reprise") !== "1") { return; }
    var form = Array.prototype.find.call(document.forms, function (f) { return new URL(f.action).pathname === saved.action; });
    if (!form) { return; }
    saved.fields.forEach(function (pair) {
      Array.prototype.forEach.call(form.elements, function (i) {
        if (i.name !== pair[0]) { return; }
        if (i.type === "radio" || i.type === "checkbox") { i.checked = i.value === pair[1]; } else { i.value = pair[1]; }
      });
    });
    form.scrollIntoView({ block: "center" });
  }

  function base64urlToBytes(text) {
    var padded = (text + "===".slice((text.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded), bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  function sendSubscription(url, subscription) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify({ subscription: subscription.toJSON() }),
    }).then(function (res) {
      if (res.status === 401) { window.location.reload(); }
      return res.json().then(function (body) { if (!res.ok) { throw new Error(body.detail || "Inscription refusée."); } return body; });
    });
  }

  // What the notification switch says: activées, refusées, non prises en charge, à installer (iOS), désactivées.
  function notificationState(key) {
    if (isIos() && !standalone()) { return "ios-home"; }
    if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window) || !key) { return "unsupported"; }
    if (Notification.permission === "denied") { return "denied"; }
    return Notification.permission === "granted" ? "granted" : "default";
  }

  var STATES = {
    "ios-home": ["À installer sur l'écran d'accueil (iPhone)", "Sur iPhone, les notifications n'arrivent qu'à l'application ajoutée à l'écran d'accueil : voyez ci-dessous."],
    unsupported: ["Non prises en charge", "Ce navigateur ne reçoit pas les notifications : les demandes vous arrivent par SMS."],
    denied: ["Refusées", "Autorisez les notifications pour ce site dans les réglages du navigateur, puis rechargez la page."],
    "default": ["Désactivées", "Activez-les pour recevoir les demandes sur ce téléphone, même l'application fermée."],
    granted: ["Activées", "Les demandes arrivent sur ce téléphone."],
    error: ["Erreur", ""],
  };

  function notifications(box) {
    var key = box.getAttribute("data-vapid-key"), url = box.getAttribute("data-register-url");
    var label = document.getElementById("notify-state"), help = document.getElementById("notify-help");
    var button = document.getElementById("notify-enable");
    function render(state, detail) {
      label.setAttribute("data-state", state);
      label.textContent = STATES[state][0];
      help.textContent = detail || STATES[state][1];
      button.hidden = state !== "default" && state !== "error";
    }
    function subscribe() {
      return navigator.serviceWorker.ready
        .then(function (reg) {
          return reg.pushManager.getSubscription().then(function (existing) {
            return existing || reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64urlToBytes(key) });
          });
        })
        .then(function (subscription) { return sendSubscription(url, subscription); })
        .then(function () { render("granted"); })
        .catch(function (error) { render("error", "L'inscription n'a pas abouti : " + error.message); });
    }
    var state = notificationState(key);
    render(state);
    if (state === "granted") { subscribe(); } // keeps the server's copy current (200 when already known)
    button.addEventListener("click", function () {
      Notification.requestPermission().then(function (answer) {
        if (answer === "granted") { subscribe(); } else { render(notificationState(key)); }
      });
    });
    return subscribe;
  }

  function install() {
    var ios = isIos(), installed = standalone();
    show("install-ios", ios && !installed);
    show("install-android", !ios && !installed);
    show("install-done", installed);
    window.addEventListener("beforeinstallprompt", function (event) {
      event.preventDefault(); // shown as our own button, where the physician looks for it
      installPrompt = event;
      show("install-hint", sessionStorage.getItem("snp-install-dismissed") !== "1");
      show("install-app-settings", true);
    });
    window.addEventListener("appinstalled", function () { show("install-hint", false); show("install-app-settings", false); show("install-done", true); });
    ["install-app", "install-app-settings"].forEach(function (id) {
      var button = document.getElementById(id);
      if (!button) { return; }
      button.addEventListener("click", function () {
        if (!installPrompt) { return; }
        installPrompt.prompt();
        installPrompt.userChoice.then(function () { installPrompt = null; sessionStorage.setItem("snp-install-dismissed", "1"); show("install-hint", false); });
      });
    });
    // The list invites to switch notifications on until they are.
    if (document.getElementById("notify-hint")) {
      var key = "x"; // the list does not know the key; only whether the browser could and did allow
      var state = notificationState(key);
      show("notify-hint", state === "default" || state === "ios-home");
    }
  }

  function physicianApp(body, refreshers) {
    var url = body.getAttribute("data-sw");
    if (url && "serviceWorker" in navigator) {
      navigator.serviceWorker.register(url, { scope: body.getAttribute("data-sw-scope") || "/m/" }).catch(function () { /* no worker: the pages still work */ });
      navigator.serviceWorker.addEventListener("message", function (event) {
        var message = event.data || {};
        if (message.type === "offers-changed") { refreshers.forEach(function (refresh) { refresh(); }); }
        if (message.type === "refuse-request") { startRefusal(); }
        if (message.type === "subscription-changed" && refreshers.subscribe) { refreshers.subscribe(); }
      });
      var signOut = document.getElementById("sign-out");
      if (signOut) {
        signOut.addEventListener("click", function () {
          if (navigator.serviceWorker.controller) { navigator.serviceWorker.controller.postMessage({ type: "purge" }); }
        });
      }
    }
    if (new URLSearchParams(window.location.search).get("action") === "refuser") { startRefusal(); }
    install();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var withNow = document.querySelector("[data-now]");
    if (withNow) { setServerNow(withNow.getAttribute("data-now")); }
    var table = document.getElementById("live");
    if (table) { live(table); }
    var input = document.getElementById("treating-search");
    if (input) { search(input); }
    toggles();
    keepForms();
    var refreshers = [];
    var list = document.getElementById("offers-live"), card = document.getElementById("offer-live");
    if (list) { refreshers.push(liveList(list)); }
    if (card) { var poll = liveOffer(card); if (poll) { refreshers.push(poll); } }
    var box = document.getElementById("notifications");
    if (box) { refreshers.subscribe = notifications(box); }
    if (document.body.hasAttribute("data-sw")) { physicianApp(document.body, refreshers); }
    tick();
    setInterval(tick, 1000);
  });
})();
