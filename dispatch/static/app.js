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
    var nb = "\u00a0"; // no-break spaces: a unit never leaves its number (dispatch/french.py, duration)
    return (h > 0 ? h + nb + "h" + nb + two(m) + nb + "min" : m + nb + "min" + nb + two(r) + nb + "s");
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

  // ---- The operator's console: today's list and the expiry banner, shared by every operator of the community.

  // The optional sound of a new expiry: chosen per console (this browser remembers it), two short tones.
  var SOUND = "snp-expiry-sound";
  function chime() {
    if (localStorage.getItem(SOUND) !== "1" || !(window.AudioContext || window.webkitAudioContext)) { return; }
    var context = new (window.AudioContext || window.webkitAudioContext)();
    [0, 0.25].forEach(function (start, index) {
      var tone = context.createOscillator(), gain = context.createGain();
      tone.frequency.value = index ? 660 : 880;
      gain.gain.value = 0.15;
      tone.connect(gain); gain.connect(context.destination);
      tone.start(context.currentTime + start); tone.stop(context.currentTime + start + 0.18);
    });
  }
  function soundToggle(box) {
    box.checked = localStorage.getItem(SOUND) === "1";
    box.addEventListener("change", function () { localStorage.setItem(SOUND, box.checked ? "1" : "0"); if (box.checked) { chime(); } });
  }

  var NB = "\u00a0"; // before a colon, as French typography wants

  function cell(label, child) {
    var td = el("td"); td.setAttribute("data-label", label);
    if (typeof child === "string") { td.textContent = child; } else if (child) { td.appendChild(child); }
    return td;
  }

  // The list follows the server within 2 s: a digest polled every second (no identity, nothing recorded), the list
  // itself fetched only when the digest moved (its full views are recorded in the access trail).
  function live(table) {
    var url = table.getAttribute("data-url"), signature = table.getAttribute("data-signature"), states = {}, busy = false;
    var box = document.getElementById("expired-banner"), template = document.getElementById("callback-template");
    var title = document.title, rendered = false;
    table.querySelectorAll("tbody tr[data-id]").forEach(function (tr) { states[tr.getAttribute("data-id")] = tr.getAttribute("data-state"); });

    function render(data) {
      setServerNow(data.now);
      signature = data.signature;
      table.setAttribute("data-signature", signature);
      var body = el("tbody");
      if (!data.requests.length) {
        var tr = el("tr", "empty"), td = el("td", "", "Aucune demande aujourd'hui.");
        td.colSpan = 5; tr.appendChild(td); body.appendChild(tr);
      }
      data.requests.forEach(function (r) {
        var tr = el("tr"); tr.setAttribute("data-id", r.id); tr.setAttribute("data-state", r.state);
        if (states[r.id] !== undefined && states[r.id] !== r.state) { tr.className = "flash-row"; }
        states[r.id] = r.state;
        var first = el("span"), link = el("a", "", String(r.id)); link.href = r.url;
        first.appendChild(link); first.appendChild(el("br")); first.appendChild(el("small", "", r.opened));
        tr.appendChild(cell("N°", first));
        tr.appendChild(cell("Patient", r.patient));
        tr.appendChild(cell("Motif", r.motive));
        var state = el("span"); state.appendChild(el("span", "badge s-" + r.state, r.state_label));
        if (r.accepted_by) { state.appendChild(el("br")); state.appendChild(el("small", "", r.accepted_by + " · " + r.appointment)); }
        if (r.callback_label) { state.appendChild(el("br")); state.appendChild(el("small", "", "Rappel" + NB + ": " + r.callback_label)); }
        tr.appendChild(cell("État", state));
        var due = null;
        if (r.deadline) { due = el("span", "countdown", r.deadline_label); due.setAttribute("data-deadline", r.deadline); }
        tr.appendChild(cell("Échéance", due));
        body.appendChild(tr);
      });
      table.replaceChild(body, table.tBodies[0]);
      banner(data.requests.filter(function (r) { return r.state === "expired" && !r.called_back; }));
      tick();
    }

    // One item per expired request not yet called back; an item being filled in is kept as it is across refreshes.
    function banner(expired) {
      if (!box || !template) { return; }
      var wanted = {};
      expired.forEach(function (r) { wanted[r.id] = r; });
      box.querySelectorAll(".callback-item").forEach(function (item) {
        if (!wanted[item.getAttribute("data-id")]) { item.remove(); }
      });
      var added = 0;
      expired.forEach(function (r) {
        if (box.querySelector('.callback-item[data-id="' + r.id + '"]')) { return; }
        box.appendChild(bannerItem(r));
        added += 1;
      });
      if (added && rendered) { chime(); }  // a new expiry while the console is open, not those it opened with
      rendered = true;
      showDue();
    }

    // The banner shows while a call-back is due; hard to miss from another tab, the title counts them.
    function showDue() {
      var due = box.querySelectorAll(".callback-item").length;
      box.hidden = !due;
      document.title = (due ? "(" + due + ") Rappel" + (due > 1 ? "s" : "") + " à faire · " : "") + title;
    }

    function bannerItem(r) {
      var item = template.content.firstElementChild.cloneNode(true);
      item.setAttribute("data-id", r.id);
      item.querySelector(".js-title").textContent = "Demande n° " + r.id + " expirée sans médecin" + NB + ": rappelez le patient";
      var who = item.querySelector(".js-patient");
      who.textContent = r.patient + (r.phone ? " au " : ".");
      if (r.phone) { var tel = el("a", "", r.phone); tel.href = r.phone_href; who.appendChild(tel); who.appendChild(document.createTextNode(".")); }
      item.querySelector(".js-open").href = r.url;
      var form = item.querySelector(".callback-form"), called = item.querySelector(".js-called");
      var relaunch = item.querySelector(".relaunch-form");
      if (relaunch) { relaunch.action = r.relaunch_url; }
      if (!form || !called) { return item; }
      form.action = r.callback_url;
      form.setAttribute("data-keep", "no");
      form.querySelectorAll("input[type=radio]").forEach(function (radio, i) { radio.id = "cb-" + r.id + "-" + i; radio.parentNode.htmlFor = radio.id; });
      called.setAttribute("aria-expanded", "false");
      called.addEventListener("click", function () {
        form.hidden = false; called.setAttribute("aria-expanded", "true");
        var first = form.querySelector("input[type=radio]"); if (first) { first.focus(); }
      });
      item.querySelector(".js-cancel").addEventListener("click", function () { form.hidden = true; called.setAttribute("aria-expanded", "false"); called.focus(); });
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var error = form.querySelector(".js-error"), submit = form.querySelector("button[type=submit]");
        if (!form.querySelector("input[name=result]:checked")) {
          error.textContent = "Choisissez le résultat du rappel."; error.hidden = false; return;
        }
        submit.disabled = true;
        fetch(form.action, {
          method: "POST", credentials: "same-origin", body: new FormData(form),
          headers: { "Accept": "application/json", "X-CSRF-Token": csrf() },
        }).then(function (res) {
          if (res.status === 401) { window.location.reload(); return null; }
          return res.json().then(function (answer) {
            if (!res.ok) { throw new Error(answer.detail || "Le rappel n'a pas été enregistré."); }
            return answer;
          });
        }).then(function (answer) {
          if (!answer) { return; }
          if (answer.location) { window.location.assign(answer.location); return; }
          item.remove();
          showDue();
          status("");
          announce(answer.message);
          refresh(true);
        }).catch(function (e) {
          error.textContent = e.message; error.hidden = false; submit.disabled = false;
        });
      });
      return item;
    }

    function announce(message) {
      var note = document.getElementById("console-note");
      if (!note) { return; }
      note.textContent = message || ""; note.hidden = !message;
    }

    function refresh(force) {
      if (busy && !force) { return; }
      busy = true;
      fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin", cache: "no-store" })
        .then(function (res) { if (!res.ok) { throw new Error(res.status); } return res.json(); })
        .then(render).catch(function () { /* keep the last list; the digest asks again at the next beat */ })
        .then(function () { busy = false; });
    }

    // The page came with the list's data (the same as /console/live): the banner is built from it, then it follows.
    var initial = document.getElementById("live-data");
    if (initial) { try { render(JSON.parse(initial.textContent)); } catch (e) { refresh(true); } } else { refresh(true); }
    poller(table.getAttribute("data-state-url"), function (data) {
      if (data.signature !== signature) { refresh(false); }
      return true;
    });
  }

  // A request's page in the console follows its request within 2 s (another desk's call-back, a physician's answer,
  // the expiry, the outcome): a digest polled every second (no identity, nothing recorded), the page reloaded when it
  // moved; unless the operator is typing in one of its forms: then a banner offers to reload, and nothing typed is lost.
  function liveRequest(box) {
    var signature = box.getAttribute("data-signature"), leaving = false;
    var banner = document.getElementById("changed-banner"), reload = document.getElementById("changed-reload");
    document.addEventListener("submit", function () { leaving = true; }); // the page is going anyway
    function changed(field) {
      if (field.type === "hidden" || field.type === "submit" || field.type === "button") { return false; }
      if (field.type === "radio" || field.type === "checkbox") { return field.checked !== field.defaultChecked; }
      if (field.tagName === "SELECT") {
        return Array.prototype.some.call(field.options, function (o) { return o.selected !== o.defaultSelected; });
      }
      return field.value !== field.defaultValue;
    }
    function typing() {
      if (box.querySelector("form .invalid")) { return true; } // a form given back with its mistakes
      var active = document.activeElement;
      if (active && active.form && box.contains(active) && (active.tagName === "TEXTAREA" || (active.tagName === "INPUT" && !/^(radio|checkbox|hidden|submit|button)$/.test(active.type)))) {
        return true;
      }
      return Array.prototype.some.call(box.querySelectorAll("form"), function (form) {
        return Array.prototype.some.call(form.elements, changed);
      });
    }
    poller(box.getAttribute("data-url"), function (data) {
      if (leaving || data.signature === signature) { return true; }
      if (typing()) {
        if (banner.hidden) { banner.hidden = false; box.setAttribute("data-changed", "1"); }
        return true;
      }
      window.location.replace(reload.href); // a GET of the page, even when it was the answer to a form
      return false;
    });
  }

  // Finding the treating GP among the community's physicians: an ARIA combobox, usable with the keyboard alone.
  function search(input) {
    var list = document.getElementById("treating-results"), chosen = document.getElementById("treating-chosen");
    var rpps = document.getElementById("f-treating_physician-rpps"), name = document.getElementById("f-treating_physician-name");
    var timer = null, items = [], active = -1, asked = "";

    function open(visible) {
      list.hidden = !visible;
      input.setAttribute("aria-expanded", visible ? "true" : "false");
      if (!visible) { setActive(-1); }
    }
    function setActive(index) {
      var options = list.querySelectorAll("li[role=option]:not([aria-disabled=true])");
      active = options.length ? index : -1;
      options.forEach(function (li, i) { li.setAttribute("aria-selected", i === active ? "true" : "false"); li.classList.toggle("active", i === active); });
      if (active >= 0) {
        input.setAttribute("aria-activedescendant", options[active].id);
        options[active].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }
    function choose(p) {
      rpps.value = p.rpps; name.value = p.name; input.value = p.name;
      open(false);
      if (chosen) { chosen.textContent = "Médecin traitant choisi" + NB + ": " + p.name + " (RPPS " + p.rpps + ")" + (p.available ? "." : ", indisponible en ce moment."); }
      var declared = document.querySelector('input[name="treating_physician.status"][value="declared"]');
      if (declared && !declared.checked) { declared.checked = true; declared.dispatchEvent(new Event("change", { bubbles: true })); }
    }
    function show(found) {
      items = found; list.textContent = "";
      if (!found.length) {
        var none = el("li", "none", "Aucun médecin de la communauté" + NB + ": saisissez son nom et son adresse MSSanté.");
        none.setAttribute("role", "option"); none.setAttribute("aria-disabled", "true"); none.id = "treating-none";
        list.appendChild(none);
      }
      found.forEach(function (p, i) {
        var li = el("li"); li.setAttribute("role", "option"); li.id = "treating-option-" + i; li.setAttribute("aria-selected", "false");
        li.appendChild(el("strong", "", p.name)); li.appendChild(document.createTextNode(" "));
        li.appendChild(el("small", "", p.rpps + " · " + p.kind + (p.available ? "" : " · indisponible")));
        li.addEventListener("mousedown", function (event) { event.preventDefault(); }); // keep the focus in the field
        li.addEventListener("click", function () { choose(p); });
        list.appendChild(li);
      });
      open(true);
      setActive(-1);
    }
    function ask(q) {
      asked = q;
      fetch(input.getAttribute("data-url") + "&q=" + encodeURIComponent(q), { headers: { "Accept": "application/json" }, credentials: "same-origin" })
        .then(function (res) { return res.json(); })
        .then(function (found) { if (q === asked && input.value.trim() === q) { show(found); } })
        .catch(function () { /* the operator can still type the name and address */ });
    }
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      if (q.length < 2) { items = []; open(false); return; }
      timer = setTimeout(function () { ask(q); }, 200);
    });
    input.addEventListener("keydown", function (event) {
      var count = items.length;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (list.hidden) { if (count) { open(true); } else if (input.value.trim().length >= 2) { ask(input.value.trim()); } return; }
        if (!count) { return; }
        var step = event.key === "ArrowDown" ? 1 : -1;
        setActive(active < 0 ? (step > 0 ? 0 : count - 1) : (active + step + count) % count);
      } else if (event.key === "Enter") {
        if (!list.hidden) {
          event.preventDefault(); // Enter in the field chooses, never submits the request
          if (active >= 0 && items[active]) { choose(items[active]); } else if (count === 1) { choose(items[0]); }
        }
      } else if (event.key === "Escape") {
        if (!list.hidden) { event.preventDefault(); open(false); } else if (input.value) { event.preventDefault(); input.value = ""; }
      } else if (event.key === "Tab") {
        open(false);
      }
    });
    input.addEventListener("blur", function () { setTimeout(function () { open(false); }, 150); });
  }

  // A returning patient: as the operator types the phone, or the names and birth date, the requests of the last
  // 30 days are shown before a new one is opened. The identity goes in a POST body, never in an address.
  function returning(panel) {
    var fields = ["phone", "first_name", "last_name", "birth_date"].map(function (n) { return document.getElementById("f-patient-" + n); });
    var title = document.getElementById("returning-title"), list = document.getElementById("returning-list");
    var timer = null, last = "";
    function typed() {
      var v = fields.map(function (f) { return f ? f.value.trim() : ""; });
      return { phone: v[0], first_name: v[1], last_name: v[2], birth_date: v[3] };
    }
    function enough(p) {
      return p.phone.replace(/\D/g, "").length >= 9 || (p.first_name && p.last_name && /^\d{4}-\d{2}-\d{2}$/.test(p.birth_date));
    }
    function render(found) {
      list.textContent = "";
      if (!found.length) { panel.hidden = true; return; }
      title.textContent = "Ce patient a déjà appelé" + NB + ": " + found.length + (found.length > 1 ? " demandes" : " demande") + " ces 30 derniers jours";
      found.forEach(function (r) {
        var li = el("li"), head = el("a", "", "Demande n° " + r.id + " du " + r.opened);
        head.href = r.url; head.target = "_blank"; head.rel = "noopener";
        li.appendChild(head);
        var what = [r.motive, r.state_label];
        if (r.accepted_by) { what.push(r.accepted_by); }
        if (r.outcome) { what.push(r.outcome); }
        if (r.callback) { what.push("rappel" + NB + ": " + r.callback); }
        li.appendChild(el("span", "what", what.join(" · ")));
        li.appendChild(el("small", "", r.patient + " · " + r.matched));
        if (r.fill) {  // the same patient calls again: their details and treating GP, not typed twice
          var take = el("button", "btn small js-fill", "Reprendre ces informations");
          take.type = "button";
          take.addEventListener("click", function () { fill(r.fill); });
          li.appendChild(take);
        }
        list.appendChild(li);
      });
      panel.hidden = false;
    }
    function fill(values) {
      var form = panel.closest("form");
      Object.keys(values).forEach(function (name) {
        Array.prototype.forEach.call(form.elements, function (input) {
          if (input.name !== name) { return; }
          if (input.type === "radio") { input.checked = input.value === values[name]; } else { input.value = values[name]; }
          input.dispatchEvent(new Event("change", { bubbles: true })); // the treating GP's block follows its status
        });
      });
      var motive = document.getElementById("f-motive");
      if (motive) { motive.focus(); } // what is new in this call: the motive and its description
    }
    function check() {
      var p = typed(), key = JSON.stringify(p);
      if (!enough(p)) { last = ""; render([]); return; }
      if (key === last) { return; }
      last = key;
      fetch(panel.getAttribute("data-url"), {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf() },
        body: key,
      }).then(function (res) { if (!res.ok) { throw new Error(res.status); } return res.json(); })
        .then(function (data) { if (last === key) { render(data.requests); } })
        .catch(function () { last = ""; });
    }
    fields.forEach(function (f) {
      if (!f) { return; }
      f.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(check, 350); });
      f.addEventListener("change", function () { clearTimeout(timer); check(); });
    });
    check(); // a form given back with its values (an error) shows the panel at once
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
    var requesterOnly = document.querySelector(".requester-only"), rppsField = document.querySelector(".rpps-field");
    function showPhysician() {
      if (!role) { return; }
      if (physicianOnly) { physicianOnly.hidden = role.value !== "physician"; }
      if (requesterOnly) { requesterOnly.hidden = role.value !== "requester"; }  // issue 27: profession and FINESS
      if (rppsField) { rppsField.hidden = role.value !== "physician" && role.value !== "requester"; }
    }
    // A part of a form that only one answer of another field needs (data-shown-when="source=sas"): hidden otherwise.
    function showConditional() {
      document.querySelectorAll("[data-shown-when]").forEach(function (part) {
        var rule = part.getAttribute("data-shown-when").split("="), form = part.closest("form");
        var field = form && form.elements[rule[0]];
        if (!field) { return; }
        part.hidden = field.value !== rule[1] && !part.classList.contains("invalid");
      });
    }
    document.addEventListener("change", function (event) {
      var t = event.target;
      if (t.form && t.name && document.querySelector('[data-shown-when^="' + t.name + '="]')) { showConditional(); }
      if (t.name === "treating_physician.status") { showDeclared(); }
      if (t.name === "triage") { showTriage(); }
      if (t === role) { showPhysician(); }
      if (t.classList && t.classList.contains("js-autosubmit")) { t.form.submit(); }
    });
    showDeclared(); showTriage(); showPhysician(); showConditional();
  }

  // ---- The physician's app: service worker, live list and offer, notifications, install, forms kept across sign-in.

  var POLL_MS = 1000; // the pages follow the server within 2 s: one small JSON read a second while visible
  // Hidden (another tab, the phone locked), a page asks every 30 s; a push wakes the physician's page at once.
  var HIDDEN_POLL_MS = 30000;
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

  // Poll `url` every second while the page is visible, every HIDDEN_POLL_MS while it is hidden (at once when it shows
  // again), never sooner than a 429 or 503's Retry-After; `onData` gets the JSON; the function returned polls at once
  // (the service worker calls it when a push arrives, hidden or not). Each poll sends back the ETag of the last answer
  // (If-None-Match): while nothing moved the server answers 304 from its change counter, and `onData` is not called.
  function poller(url, onData) {
    var busy = false, stopped = false, tag = null, timer = null, notBefore = 0;
    function schedule() {
      clearTimeout(timer);
      if (stopped) { return; }
      var wait = document.visibilityState === "hidden" ? HIDDEN_POLL_MS : POLL_MS;
      timer = setTimeout(poll, Math.max(wait, notBefore - Date.now()));
    }
    function poll() {
      if (busy || stopped) { return; }
      if (Date.now() < notBefore) { schedule(); return; } // the server asked for a pause: it is honoured
      busy = true;
      var headers = { "Accept": "application/json" };
      if (tag) { headers["If-None-Match"] = tag; }
      fetch(url, { headers: headers, credentials: "same-origin", cache: "no-store" })
        .then(function (res) {
          if (res.status === 401) { stopped = true; window.location.reload(); return null; } // signs in, then back here
          if (res.status === 304) { status(""); return null; } // nothing moved
          if (res.status === 429 || res.status === 503) {
            notBefore = Date.now() + retryAfter(res.headers.get("Retry-After")) * 1000;
            return null; // busy or in maintenance: the page keeps what it shows and asks again after the pause
          }
          if (!res.ok) { throw new Error(String(res.status)); }
          tag = res.headers.get("ETag");
          return res.json();
        })
        .then(function (data) { if (data) { status(""); setServerNow(data.now); if (onData(data) === false) { stopped = true; } } })
        .catch(function () { status("Hors ligne : la page se mettra à jour au retour du réseau."); })
        .then(function () { busy = false; schedule(); });
    }
    schedule();
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") { schedule(); } else { poll(); }
    });
    window.addEventListener("online", poll);
    return poll;
  }

  // Seconds to wait from a Retry-After header (seconds or an HTTP date); 5 s when absent or unreadable, at most 10 min.
  function retryAfter(value) {
    var seconds = Number(value);
    if (value && isNaN(seconds)) { seconds = (Date.parse(value) - Date.now()) / 1000; }
    if (!value || isNaN(seconds)) { seconds = 5; }
    return Math.min(Math.max(seconds, 1), 600);
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

  // The appointment: a time typed of one's own picks "Autre heure"; a quick choice leaves the time field aside.
  function appointmentChoice(form) {
    var other = document.getElementById("in-other");
    ["f-time", "f-date"].forEach(function (id) {
      var field = document.getElementById(id);
      if (field && other) { field.addEventListener("input", function () { if (field.value) { other.checked = true; } }); }
    });
  }

  // Refusing asks once: the first tap says "Confirmer le refus", the second sends it (or the buttons go back after 5 s).
  function confirmRefusal(button) {
    var label = button.textContent, armed = null;
    button.addEventListener("click", function (event) {
      if (armed) { clearTimeout(armed); armed = null; return; } // the second tap: sent
      event.preventDefault();
      button.textContent = "Confirmer le refus\u00a0?";
      button.classList.add("armed");
      armed = setTimeout(function () { armed = null; button.textContent = label; button.classList.remove("armed"); }, 5000);
    });
  }

  // A form sent back with errors: its first wrong field comes into view (never under the fixed answer bar), focused.
  function showFirstError() {
    var message = document.querySelector("form p.error");
    if (!message) { return; }
    var field = message.closest(".field, fieldset, .when-fields") || message.parentNode;
    var input = document.querySelector("form [aria-invalid=true]") || field.querySelector("input:not([type=hidden]), select, textarea");
    if (input) { input.focus({ preventScroll: true }); }
    message.scrollIntoView({ block: "center" }); // the message itself, never under the fixed answer bar
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
    var tested = document.getElementById("notify-test"), testedState = document.getElementById("notify-test-state");
    function render(state, detail) {
      label.setAttribute("data-state", state);
      label.textContent = STATES[state][0];
      help.textContent = detail || STATES[state][1];
      button.hidden = state !== "default" && state !== "error";
      // A test sent while this phone has notifications off would say "envoyée" and never show: not offered then.
      if (testedState) { testedState.value = state; }
      if (tested) { tested.disabled = state !== "granted"; }
      show("notify-test-off", state !== "granted");
    }
    function sameKey(held, wanted) {
      if (!held) { return true; }  // a browser that does not say keeps its subscription
      var a = new Uint8Array(held);
      if (a.length !== wanted.length) { return false; }
      for (var i = 0; i < a.length; i += 1) { if (a[i] !== wanted[i]) { return false; } }
      return true;
    }
    function subscribe() {
      return navigator.serviceWorker.ready
        .then(function (reg) {
          var fresh = function () {
            return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: base64urlToBytes(key) });
          };
          return reg.pushManager.getSubscription().then(function (existing) {
            if (!existing) { return fresh(); }
            // The service's VAPID key was rotated: a subscription made with the old one no longer receives anything.
            if (!sameKey(existing.options && existing.options.applicationServerKey, base64urlToBytes(key))) {
              return existing.unsubscribe().then(fresh);
            }
            return existing;
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
      show("install-hint", localStorage.getItem("snp-install-dismissed") !== "1");
      show("install-app-settings", true);
    });
    window.addEventListener("appinstalled", function () { show("install-hint", false); show("install-app-settings", false); show("install-done", true); });
    ["install-app", "install-app-settings"].forEach(function (id) {
      var button = document.getElementById(id);
      if (!button) { return; }
      button.addEventListener("click", function () {
        if (!installPrompt) { return; }
        installPrompt.prompt();
        installPrompt.userChoice.then(function () { installPrompt = null; localStorage.setItem("snp-install-dismissed", "1"); show("install-hint", false); });
      });
    });
    var never = document.getElementById("install-never");
    if (never) {  // dismissed for good on this phone: the menu of the settings page still offers it
      never.addEventListener("click", function () { localStorage.setItem("snp-install-dismissed", "1"); show("install-hint", false); });
    }
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

  // Enter in a field of the opening form never sends it (a surname typed, Enter, and the request left with no phone
  // and no treating GP): only its button does. The GP search's own Enter chooses a physician.
  function noEnterSubmit(form) {
    form.addEventListener("keydown", function (event) {
      var target = event.target;
      if (event.key === "Enter" && target.tagName === "INPUT" && target.type !== "submit" && target.type !== "button") {
        event.preventDefault();
      }
    });
  }

  // The members list: rows kept that hold every word typed, accents and case aside.
  function filterMembers(input) {
    var rows = document.querySelectorAll("#members tbody tr.member"), count = document.getElementById("members-count");
    function plain(text) { return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase(); }
    input.addEventListener("input", function () {
      var words = plain(input.value).split(/\s+/).filter(Boolean), shown = 0;
      rows.forEach(function (tr) {
        var text = plain(tr.textContent).replace(/\s+/g, " "), digits = tr.textContent.replace(/\D/g, "");
        var keep = words.every(function (w) { return text.indexOf(w) >= 0 || (/^\d+$/.test(w) && digits.indexOf(w) >= 0); });
        tr.hidden = !keep; if (keep) { shown += 1; }
      });
      count.textContent = words.length ? shown + (shown > 1 ? " membres trouvés" : " membre trouvé") : "";
    });
  }

  // A chart of months wider than the phone starts on its latest months, where the news is.
  function latestMonths() {
    document.querySelectorAll(".chart-scroll").forEach(function (box) { box.scrollLeft = box.scrollWidth; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var withNow = document.querySelector("[data-now]");
    if (withNow) { setServerNow(withNow.getAttribute("data-now")); }
    var table = document.getElementById("live");
    if (table) { live(table); }
    var requestBox = document.getElementById("request-live");
    if (requestBox) { liveRequest(requestBox); }
    var input = document.getElementById("treating-search");
    if (input) { search(input); }
    var panel = document.getElementById("returning");
    if (panel) { returning(panel); }
    var openForm = document.getElementById("open-form");
    if (openForm) { noEnterSubmit(openForm); }
    var sound = document.getElementById("expiry-sound");
    if (sound) { soundToggle(sound); }
    var membersFilter = document.getElementById("members-filter");
    if (membersFilter) { filterMembers(membersFilter); }
    latestMonths();
    // An offer's SMS link opens the request by itself; a messaging app's preview (no scripts) spends nothing.
    var linkForm = document.getElementById("offer-link");
    if (linkForm) { linkForm.submit(); }
    var acceptForm = document.getElementById("accept-form");
    if (acceptForm) { appointmentChoice(acceptForm); }
    var refuse = document.getElementById("refuse");
    if (refuse) { confirmRefusal(refuse); }
    showFirstError();
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
