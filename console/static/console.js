// fraudstream console: small client-side updates over server-rendered pages.
// One EventSource per page (/events) brings new alerts, verdicts and the stack's status;
// the overview, models and drift pages also refresh small JSON/HTML fragments.
"use strict";
(function () {
  const page = document.body.dataset.page;
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const HEADERS = { "Content-Type": "application/json", "X-Console": "1" };

  function toast(text, bad) {
    const box = $("#toast");
    const p = document.createElement("p");
    p.textContent = text;
    if (bad) p.className = "bad";
    box.appendChild(p);
    setTimeout(() => p.remove(), bad ? 8000 : 4000);
  }

  function showStatus(status) {
    const box = $("#problems");
    box.replaceChildren(...status.problems.map((t) => { const p = document.createElement("p"); p.textContent = t; return p; }));
    box.hidden = status.problems.length === 0;
  }

  function setLive(ok, text) {
    const el = $("#live");
    el.textContent = text;
    el.className = "live " + (ok ? "ok" : "down");
  }

  // ---- the event stream ----------------------------------------------------------------
  let everConnected = false;
  function connect(handlers) {
    const es = new EventSource("/events");
    es.addEventListener("hello", (e) => {
      const d = JSON.parse(e.data);
      setLive(true, "live");
      showStatus(d.status);
      if (everConnected && handlers.resync) handlers.resync();
      everConnected = true;
    });
    es.addEventListener("status", (e) => showStatus(JSON.parse(e.data)));
    es.addEventListener("resync", () => { es.close(); if (handlers.resync) handlers.resync(); setTimeout(() => connect(handlers), 500); });
    for (const kind of ["alert", "verdict"]) {
      if (handlers[kind]) es.addEventListener(kind, (e) => handlers[kind](JSON.parse(e.data)));
    }
    es.onerror = () => setLive(false, "reconnecting…");
    return es;
  }

  // ---- alert queue ---------------------------------------------------------------------
  function alertsPage() {
    const table = $("#alerts");
    const body = table.tBodies[0];
    const want = { model: table.dataset.model, label: table.dataset.label, since: Number(table.dataset.since || 0) };
    const MAX_ROWS = 1000;
    let selected = null;
    window.__console = { shown: {}, connectedAt: null };

    function matches(d) {
      if (want.model && String(d.model_version) !== want.model) return false;
      if (want.since && d.event_ts && d.event_ts < want.since) return false;
      if (want.label === "unlabelled" && d.labelled) return false;
      if (want.label === "labelled" && !d.labelled) return false;
      if ((want.label === "fraud" || want.label === "legit") && (!d.verdict || d.verdict.verdict !== want.label)) return false;
      return true;
    }
    function rowFrom(html) {
      const t = document.createElement("tbody");
      t.innerHTML = html.trim();
      return t.firstElementChild;
    }
    function select(row, focus) {
      if (selected) selected.classList.remove("selected");
      selected = row;
      if (!row) return;
      row.classList.add("selected");
      if (focus !== false) row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
    function count() {
      $("#shown").textContent = body.rows.length;
      $("#empty").hidden = body.rows.length > 0;
    }
    function place(row) {
      // newest first: by event time, then ID, as the server sorts
      const ts = Number(row.dataset.ts), id = Number(row.dataset.id);
      for (const r of body.rows) {
        const rts = Number(r.dataset.ts), rid = Number(r.dataset.id);
        if (ts > rts || (ts === rts && id > rid)) { body.insertBefore(row, r); return; }
      }
      body.appendChild(row);
    }
    function onAlert(d) {
      const old = document.getElementById("alert-" + d.id);
      if (!old && !matches(d)) return;
      const row = rowFrom(d.html);
      if (old) { old.replaceWith(row); if (selected === old) select(row, false); return; }
      row.classList.add("fresh");
      place(row);
      window.__console.shown[d.id] = Date.now();
      while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
      count();
      if (!selected) select(body.rows[0], false);
    }
    function onVerdict(d) {
      const old = document.getElementById("alert-" + d.id);
      if (!old) return;
      const note = $(".note-in", old);
      const row = rowFrom(d.html);
      const keepNote = note && note.value && $(".note-in", row);
      if (keepNote) $(".note-in", row).value = note.value;
      old.replaceWith(row);
      if (selected === old) select(row, document.activeElement === old || document.activeElement === document.body);
    }
    async function resync() {
      const r = await fetch("/api/alerts" + location.search, { headers: { Accept: "application/json" } });
      if (!r.ok) return;
      location.reload();
    }
    async function give(row, verdict) {
      if (!row || row.classList.contains("labelled")) return;
      const buttons = $$("button.give", row);
      if (!buttons.length || buttons[0].disabled) return;   // a verdict is on its way already
      buttons.forEach((b) => { b.disabled = true; });
      row.setAttribute("aria-busy", "true");
      const noteEl = $(".note-in", row);
      const note = noteEl ? noteEl.value : "";
      let res, body;
      try {
        res = await fetch(`/api/alerts/${row.dataset.id}/verdict`, { method: "POST", headers: HEADERS,
          body: JSON.stringify({ verdict, note }) });
        body = await res.json();
      } catch (err) {
        body = { message: "the console did not answer: " + err };
      }
      row.removeAttribute("aria-busy");
      if (res && res.ok) {
        toast(`Alert ${row.dataset.id}: ${body.message}`);
      } else {
        toast(`Alert ${row.dataset.id}: ${body.message}`, true);
        const cur = document.getElementById("alert-" + row.dataset.id);
        if (cur && !cur.classList.contains("labelled")) $$("button.give", cur).forEach((b) => { b.disabled = false; });
      }
    }
    body.addEventListener("click", (e) => {
      const btn = e.target.closest("button.give");
      const row = e.target.closest("tr.alert");
      if (row) select(row, false);
      if (btn) give(row, btn.dataset.verdict);
    });
    $$("select", $(".filters")).forEach((s) => s.addEventListener("change", () => s.form.submit()));
    document.addEventListener("keydown", (e) => {
      if (e.target.matches("input, select, textarea")) {
        if (e.key === "Enter" || e.key === "Escape") { e.preventDefault(); if (selected) selected.focus(); }
        return;
      }
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      const rows = Array.from(body.rows);
      const i = selected ? rows.indexOf(selected) : -1;
      switch (e.key) {
        case "j": case "ArrowDown": select(rows[Math.min(i + 1, rows.length - 1)]); break;
        case "k": case "ArrowUp": select(rows[Math.max(i - 1, 0)]); break;
        case "u": select(rows.slice(i + 1).find((r) => !r.classList.contains("labelled")) || rows.find((r) => !r.classList.contains("labelled"))); break;
        case "f": give(selected, "fraud"); break;
        case "l": give(selected, "legit"); break;
        case "n": { const n = selected && $(".note-in", selected); if (n) n.focus(); break; }
        case "?": $("#keys").showModal(); break;
        default: return;
      }
      e.preventDefault();
    });
    if (body.rows.length) select(body.rows[0], false);
    connect({ alert: onAlert, verdict: onVerdict, resync });
    window.__console.connectedAt = Date.now();
  }

  // ---- charts (uPlot, vendored) ---------------------------------------------------------
  // the y axis as wide as its longest tick label ("125,000" was cut at a fixed 60 px)
  function axisWidth(u, values) {
    const longest = values ? Math.max(0, ...values.map((v) => String(v).length)) : 4;
    return Math.max(40, 14 + 8 * longest);
  }
  function chart(el, series, data, opts) {
    if (!window.uPlot || !el) return null;
    const width = Math.max(300, el.clientWidth || 480);
    const u = new uPlot(Object.assign({ width, height: 200, series, scales: { x: { time: true } },
      axes: [{}, { size: axisWidth }], legend: { live: false } }, opts || {}), data, el);
    new ResizeObserver(() => u.setSize({ width: Math.max(300, el.clientWidth), height: u.height })).observe(el);
    return u;
  }
  const fmt = (v, d) => (v === null || v === undefined ? "–" : Number(v).toFixed(d));
  const pct = (v, d) => (v === null || v === undefined ? "–" : (100 * v).toFixed(d) + " %");

  async function fragment(name, target) {
    const r = await fetch("/fragments/" + name);
    if (r.ok) $(target).innerHTML = await r.text();
  }

  function overviewPage() {
    let data = JSON.parse($("#data").textContent);
    const s = () => data.scores.series;
    const rate = chart($("#c-rate"), [{}, { label: "scores/s", stroke: "#0b57d0", width: 2 }], [s().t, s().scores_per_s]);
    const lat = chart($("#c-latency"), [{}, { label: "p50", stroke: "#1e7b34", width: 2 }, { label: "p99", stroke: "#b3261e", width: 2 }],
      [s().t, s().p50_ms, s().p99_ms]);
    async function refresh() {
      const r = await fetch("/api/overview");
      if (!r.ok) return;
      data = await r.json();
      const sc = data.scores;
      $("#t-rate").textContent = fmt(sc.scores_per_s, 1);
      $("#t-alerts").textContent = pct(sc.alert_rate, 2);
      $("#t-coverage").textContent = pct(data.coverage.share, 1);
      $("#t-coverage-n").textContent = `${data.coverage.labelled} of ${data.coverage.alerts} alerts, ${data.coverage.window}`;
      $("#t-latency").textContent = `${fmt(sc.latency_ms.p50, 0)} / ${fmt(sc.latency_ms.p90, 0)} / ${fmt(sc.latency_ms.p99, 0)} ms`;
      if (rate) rate.setData([s().t, s().scores_per_s]);
      if (lat) lat.setData([s().t, s().p50_ms, s().p99_ms]);
      await fragment("quality", "#quality");
      await fragment("lag", "#lag");
    }
    setInterval(refresh, 2000);
    connect({});
  }

  function modelsPage() {
    setInterval(() => fragment("models", "#models"), 5000);
    const dialog = $("#confirm");
    if (dialog) {
      let pending = null;
      document.addEventListener("click", (e) => {
        const b = e.target.closest("button.promote, button.rollback");
        if (!b) return;
        pending = b.classList.contains("promote") ? { action: "promote", version: Number(b.dataset.version) }
          : { action: "rollback", version: Number(b.dataset.version) };
        $("#confirm-text").textContent = pending.action === "promote"
          ? `Make version ${pending.version} the champion? Every scorer switches to it at its next batch.`
          : "Roll back to the previous champion? Every scorer switches at its next batch.";
        dialog.showModal();
      });
      dialog.addEventListener("close", async () => {
        if (dialog.returnValue !== "ok" || !pending) return;
        const r = await fetch("/api/models/" + pending.action, { method: "POST", headers: HEADERS, body: JSON.stringify(pending) });
        const body = await r.json();
        toast(body.message, !r.ok);
        fragment("models", "#models");
      });
    }
    connect({});
  }

  function driftPage() {
    let data = JSON.parse($("#data").textContent);
    const colours = ["#b3261e", "#0b57d0", "#1e7b34", "#8a4b00", "#6a1b9a", "#00695c"];
    const mk = () => chart($("#c-psi"), [{}, ...data.top.map((n, i) => ({ label: n, stroke: colours[i % colours.length], width: 2 }))],
      [data.series.t, ...data.top.map((n) => data.series.features[n])], { height: 260 });
    let u = mk();
    async function refresh() {
      const r = await fetch("/api/drift");
      if (!r.ok) return;
      const next = await r.json();
      const same = JSON.stringify(next.top) === JSON.stringify(data.top);
      data = next;
      if (u && same) u.setData([data.series.t, ...data.top.map((n) => data.series.features[n])]);
      else { if (u) u.destroy(); $("#c-psi").replaceChildren(); u = mk(); }
      await fragment("drift", "#drift");
    }
    setInterval(refresh, 5000);
    connect({});
  }

  document.addEventListener("DOMContentLoaded", () => {
    ({ alerts: alertsPage, overview: overviewPage, models: modelsPage, drift: driftPage }[page] || (() => connect({})))();
  });
})();
