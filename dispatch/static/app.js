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
      banner(data.requests.filter(function (r) { return r.state === "expired" && dismissed.indexOf(r.id) < 0; }));
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

  document.addEventListener("DOMContentLoaded", function () {
    var withNow = document.querySelector("[data-now]");
    if (withNow) { setServerNow(withNow.getAttribute("data-now")); }
    var table = document.getElementById("live");
    if (table) { live(table); }
    var input = document.getElementById("treating-search");
    if (input) { search(input); }
    toggles();
    tick();
    setInterval(tick, 1000);
  });
})();
