// The dashboard's script: everything comes from /api/v1 with the token (when one is set),
// kept in sessionStorage for this tab only. Values are put in the page as text, never as markup.
"use strict";

const TOKEN_KEY = "mongo-replicator-token";
const WINDOW_SECONDS = 300;
const STATUS_EVERY_MS = 2000;
const SLOW_EVERY_MS = 5000;
const MAX_EVENTS = 100;
// Sections other features add: shown when their route exists (hidden on 404).
const OPTIONAL = [
  ["divergences", "/api/v1/divergences"],
  ["held", "/api/v1/held"],
  ["conflicts", "/api/v1/conflicts"],
];

const $ = (id) => document.getElementById(id);
let samples = []; // {t, lag, rate}
let lastApplied = null;
let copies = new Map(); // collection -> {documents, total}
let started = false;

class Unauthorized extends Error {}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function headers(extra) {
  const h = Object.assign({ Accept: "application/json" }, extra || {});
  const t = token();
  if (t) h.Authorization = "Bearer " + t;
  return h;
}

async function api(method, path, body) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const r = await fetch(path, init);
  if (r.status === 401) throw new Unauthorized();
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (_) { json = null; }
  return { status: r.status, json };
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function button(label, onClick) {
  const b = el("button", label, "small");
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

function fill(tbody, rows, columns) {
  tbody.replaceChildren();
  if (rows.length === 0) {
    const tr = el("tr");
    const td = el("td", "none", "empty");
    td.colSpan = columns;
    tr.append(td);
    tbody.append(tr);
    return;
  }
  for (const cells of rows) {
    const tr = el("tr");
    for (const c of cells) {
      const td = el("td");
      if (c instanceof Node) td.append(c); else td.textContent = c === null || c === undefined ? "" : String(c);
      tr.append(td);
    }
    tbody.append(tr);
  }
}

function short(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

// ---- login ----

function askToken(wrong) {
  $("main").hidden = true;
  $("login").hidden = false;
  $("login-error").hidden = !wrong;
  $("conn").textContent = "token needed";
  $("token").focus();
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  start();
});

// ---- status, chart ----

function total(applied) {
  if (typeof applied === "number") return applied;
  return Object.values(applied || {}).reduce((a, b) => a + Number(b || 0), 0);
}

async function refreshStatus() {
  const { json: s } = await api("GET", "/api/v1/status");
  if (!s) return;
  $("phase").textContent = s.phase;
  $("pair").textContent = (s.source && s.source.database) + " \u2192 " + (s.target && s.target.database);
  const lag = Number(s.lag_seconds || 0);
  $("lag").textContent = lag.toFixed(1) + " s";
  const applied = total(s.events_applied);
  $("applied").textContent = applied.toLocaleString();
  const now = Date.now() / 1000;
  let rate = 0;
  if (lastApplied) rate = Math.max(0, (applied - lastApplied.n) / Math.max(0.001, now - lastApplied.t));
  lastApplied = { n: applied, t: now };
  $("rate").textContent = rate.toFixed(1) + " /s";
  const p = s.paused || {};
  const some = Object.keys(p.collections || {});
  $("paused").textContent = p.all ? "all" : some.length ? some.join(", ") : "no";
  $("parked-count").textContent = s.parked_documents === undefined ? "-" : s.parked_documents;
  samples.push({ t: now, lag, rate });
  samples = samples.filter((x) => x.t >= now - WINDOW_SECONDS);
  drawChart(now);
}

function polyline(points, cls) {
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points.join(" "));
  line.setAttribute("class", cls);
  return line;
}

function drawChart(now) {
  const svg = $("chart");
  const W = 600, H = 160, PAD = 8;
  const maxLag = Math.max(1, ...samples.map((s) => s.lag));
  const maxRate = Math.max(1, ...samples.map((s) => s.rate));
  // The window grows to WINDOW_SECONDS as samples arrive, so a fresh page is not one edge.
  const from = Math.max(now - WINDOW_SECONDS, Math.min(now - 30, samples.length ? samples[0].t : now));
  const x = (t) => ((t - from) / (now - from)) * W;
  const y = (v, max) => H - PAD - (v / max) * (H - 2 * PAD);
  svg.replaceChildren(
    polyline(samples.map((s) => x(s.t).toFixed(1) + "," + y(s.lag, maxLag).toFixed(1)), "lag"),
    polyline(samples.map((s) => x(s.t).toFixed(1) + "," + y(s.rate, maxRate).toFixed(1)), "rate"),
  );
  $("lag-max").textContent = maxLag.toFixed(1);
  $("rate-max").textContent = maxRate.toFixed(0);
}

// ---- copy progress, parked, runs, optional sections ----

function drawCopies() {
  const rows = [...copies.entries()].map(([name, c]) => {
    const bar = el("div", null, "bar");
    if (c.total) {
      const inner = el("div");
      inner.style.width = Math.min(100, (100 * c.documents) / c.total).toFixed(0) + "%";
      bar.append(inner);
    }
    const count = c.total ? c.documents.toLocaleString() + " / " + c.total.toLocaleString() : c.documents.toLocaleString();
    return [name, count, c.total ? bar : ""];
  });
  fill($("copies").tBodies[0], rows, 3);
}

function noteCopies(list) {
  for (const c of list || []) {
    const prev = copies.get(c.collection) || {};
    copies.set(c.collection, { documents: Number(c.documents || 0), total: c.total || prev.total || 0 });
  }
  drawCopies();
}

async function act(path, body) {
  try {
    const { status, json } = await api("POST", path, body);
    $("control-result").textContent = status < 300 ? path.replace("/api/v1/", "") + ": ok" : (json && json.error) || "HTTP " + status;
  } catch (e) {
    handle(e);
  }
  refreshStatus().catch(handle);
  refreshParked().catch(handle);
}

async function refreshParked() {
  const { json } = await api("GET", "/api/v1/failed");
  const docs = (json && json.documents) || [];
  fill($("parked").tBodies[0], docs.map((d) => {
    const which = { collection: d.collection, id: d.id };
    const buttons = el("span");
    buttons.append(button("Retry", () => act("/api/v1/failed/retry", which)), " ", button("Skip", () => act("/api/v1/failed/skip", which)));
    return [d.collection, short(d.id), d.reason, d.attempts, buttons];
  }), 5);
}

async function refreshRuns() {
  const { json } = await api("GET", "/api/v1/runs?limit=10");
  const runs = (json && json.runs) || [];
  if (runs[0] && runs[0].state === "running") noteCopies(runs[0].copies);
  fill($("runs").tBodies[0], runs.map((r) => [
    when(r.started_at), r.state, when(r.ended_at), r.exit ? r.exit.reason : "", r.copied_documents, r.errors_total,
  ]), 6);
}

// The first list in an answer (the answer itself, or its first array field).
function listOf(json) {
  if (Array.isArray(json)) return json;
  for (const v of Object.values(json || {})) if (Array.isArray(v)) return v;
  return [];
}

async function refreshOptional() {
  for (const [name, path] of OPTIONAL) {
    const section = $(name + "-section");
    const { status, json } = await api("GET", path);
    if (status === 404 || status >= 500 || json === null) { section.hidden = true; continue; }
    section.hidden = false;
    const items = listOf(json).slice(0, 50);
    const cols = [...new Set(items.flatMap((i) => Object.keys(i || {})))].slice(0, 6);
    const table = $(name);
    const head = el("tr");
    for (const c of cols) head.append(el("th", c));
    table.tHead.replaceChildren(head);
    fill(table.tBodies[0], items.map((i) => cols.map((c) => short(i[c]))), Math.max(1, cols.length));
  }
}

// ---- events (fetch streaming: the Authorization header, which EventSource cannot send) ----

let lastEventId = 0;

function showEvent(e) {
  if (e.type === "progress") {
    noteCopies(e.data && e.data.copied);
    return;
  }
  if (e.type === "copy_started" || e.type === "copy_finished") refreshRuns().catch(handle);
  if (e.type === "document_parked" || e.type === "document_retried") refreshParked().catch(handle);
  const li = el("li");
  li.append(el("span", new Date(e.at).toLocaleTimeString() + " "), el("span", e.type, "kind"), el("span", " " + short(e.data)));
  const list = $("events");
  list.prepend(li);
  while (list.children.length > MAX_EVENTS) list.lastChild.remove();
}

function dispatch(block) {
  let id = null, data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("id:")) id = line.slice(3).trim();
    else if (line.startsWith("data:")) data += line.slice(5).replace(/^ /, "");
  }
  if (id !== null) lastEventId = Number(id) || lastEventId;
  if (!data) return;
  try { showEvent(JSON.parse(data)); } catch (_) { /* not an event */ }
}

async function streamEvents() {
  for (;;) {
    try {
      const h = headers({ Accept: "text/event-stream" });
      if (lastEventId) h["Last-Event-ID"] = String(lastEventId);
      const r = await fetch("/api/v1/events", { headers: h });
      if (r.status === 401) throw new Unauthorized();
      if (!r.ok || !r.body) throw new Error("HTTP " + r.status);
      $("conn").textContent = "live";
      $("conn").className = "badge live";
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value.replace(/\r\n/g, "\n");
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          dispatch(buf.slice(0, cut));
          buf = buf.slice(cut + 2);
        }
      }
    } catch (e) {
      if (e instanceof Unauthorized) return handle(e);
    }
    $("conn").textContent = "reconnecting";
    $("conn").className = "badge down";
    await new Promise((r) => setTimeout(r, 2000));
  }
}

// ---- start ----

function handle(e) {
  if (e instanceof Unauthorized) {
    started = false;
    askToken(token() !== null);
    return;
  }
  $("conn").textContent = "unreachable";
  $("conn").className = "badge down";
}

function every(ms, f) {
  const tick = () => { if (started) f().catch(handle); };
  setInterval(tick, ms);
}

async function start() {
  try {
    await refreshStatus();
  } catch (e) {
    return handle(e);
  }
  $("login").hidden = true;
  $("main").hidden = false;
  if (started) return;
  started = true;
  $("conn").textContent = "connected";
  refreshParked().catch(handle);
  refreshRuns().catch(handle);
  refreshOptional().catch(handle);
  streamEvents();
}

$("pause").addEventListener("click", () => act("/api/v1/pause"));
$("resume").addEventListener("click", () => act("/api/v1/resume"));
every(STATUS_EVERY_MS, refreshStatus);
every(SLOW_EVERY_MS, refreshParked);
every(SLOW_EVERY_MS, refreshRuns);
every(SLOW_EVERY_MS, refreshOptional);
start();
