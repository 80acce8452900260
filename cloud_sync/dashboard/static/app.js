// Fleet dashboard: plain JS, no build step. Data comes from /api/*; live updates arrive as
// server-sent events on /api/events and trigger a (throttled) refresh of what they touch.
"use strict";
const $ = (sel) => document.querySelector(sel);
const state = { device: null, queries: [] };

async function getJSON(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}
function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
function ago(ts) {
  if (!ts) return "never";
  const s = Math.max(0, Date.now() / 1000 - ts);
  return s < 60 ? `${s.toFixed(0)} s ago` : s < 3600 ? `${(s / 60).toFixed(0)} min ago` : `${(s / 3600).toFixed(1)} h ago`;
}
function fmt(value, digits = 1, unit = "") {
  return value === null || value === undefined || Number.isNaN(value) ? "–" : `${Number(value).toFixed(digits)}${unit}`;
}
function fillRows(tbody, rows, cells, onClick) {
  tbody.innerHTML = rows.map((row, i) => `<tr data-i="${i}">${cells(row).map((c) => `<td>${c}</td>`).join("")}</tr>`).join("");
  if (onClick) tbody.querySelectorAll("tr").forEach((tr) => tr.addEventListener("click", () => onClick(rows[tr.dataset.i])));
}

// ---- tabs (hash routing, so a tab can be linked) ----
function showTab() {
  const id = (location.hash || "#fleet").slice(1);
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.id === id));
  document.querySelectorAll("#tabs a").forEach((a) => a.classList.toggle("active", a.hash === `#${id}`));
  refresh(id);
}
window.addEventListener("hashchange", showTab);

// ---- fleet ----
async function loadFleet() {
  const data = await getJSON("/api/fleet");
  const online = data.devices.filter((d) => d.online).length;
  $("#summary").textContent = `${online}/${data.devices.length} devices online · ${data.results_total ?? 0} results stored`;
  fillRows($("#fleet-table tbody"), data.devices, (d) => [
    `<a href="#fleet" data-device="${esc(d.id)}">${esc(d.id)}</a>`,
    `<span class="${d.online ? "online" : "offline"}" data-status="${d.online ? "online" : "offline"}">${d.online ? "online" : "offline"}</span>`,
    esc(d.profile), esc(d.tasks_summary), fmt(d.backlog, 0), ago(d.last_seen),
    fmt(d.cpu, 0, " %"), fmt(d.mem_mb, 0, " MB"), fmt(d.temp_c, 1, " °C"),
  ], (d) => loadDevice(d.id));
  showAlarms(data.alarms || []);
  if (state.device) loadDevice(state.device, true);
}
async function loadDevice(id, quiet) {
  state.device = id;
  const d = await getJSON(`/api/device/${encodeURIComponent(id)}`);
  $("#device-page").hidden = false;
  $("#device-title").textContent = `${id} — ${d.online ? "online" : "offline"}`;
  $("#device-td").textContent = JSON.stringify(d.td || {}, null, 2);
  $("#device-deployments").innerHTML = table(["job", "model", "state", "updated"], d.deployments || []);
  drawSeries($("#health-chart"), d.health || [], [["cpu", "#58a6ff", "CPU %"], ["mem_mb", "#3fb950", "Mem MB"], ["backlog", "#d29922", "Backlog"]]);
  if (!quiet) $("#device-page").scrollIntoView({ behavior: "smooth" });
}
function table(columns, rows) {
  if (!rows.length) return '<p class="muted">none</p>';
  return `<table><thead><tr>${columns.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${columns.map((c) => `<td>${esc(typeof r[c] === "object" ? JSON.stringify(r[c]) : r[c])}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

// ---- charts on canvas ----
function drawSeries(canvas, rows, series) {
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  ctx.font = "11px sans-serif";
  series.forEach(([key, color, label], k) => {
    const values = rows.map((r) => r[key]).filter((v) => v !== null && v !== undefined);
    ctx.fillStyle = color; ctx.fillText(label, 8 + k * 110, 12);
    if (values.length < 2) return;
    const lo = Math.min(...values), hi = Math.max(...values), span = hi - lo || 1;
    ctx.strokeStyle = color; ctx.beginPath();
    values.forEach((v, i) => {
      const x = 8 + (i / (values.length - 1)) * (W - 16), y = H - 8 - ((v - lo) / span) * (H - 30);
      i ? ctx.lineTo(x, y) : ctx.moveTo(x, y);
    });
    ctx.stroke();
  });
}
function heat(v) { // 0..1 -> dark blue .. yellow
  const r = Math.round(255 * Math.min(1, v * 2)), g = Math.round(255 * Math.max(0, v * 1.6 - 0.3)), b = Math.round(120 * (1 - v));
  return `rgb(${r},${g},${b})`;
}

// ---- DAS ----
async function loadDas() {
  const d = await getJSON("/api/das");
  $("#das-summary").textContent = `${d.vehicles_total} vehicles detected by ${d.devices.length} fibre(s)`;
  fillRows($("#das-minutes tbody"), d.per_minute, (m) => [esc(m.minute), esc(m.device), m.count, m.cars ?? "–", m.trucks ?? "–",
    `${fmt(m.mean_speed_increasing_kmh, 0)} → / ${fmt(m.mean_speed_decreasing_kmh, 0)} ←`]);
  fillRows($("#das-events tbody"), d.events, (e) => [new Date(e.ts * 1000).toLocaleTimeString(), esc(e.device), esc(e.vehicle_id ?? e.id), esc(e.class), fmt(e.speed_kmh), fmt(e.confidence, 2)]);
  const canvas = $("#das-waterfall"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const w = d.waterfall;
  if (!w || !w.image) { ctx.fillStyle = "#8b98a5"; ctx.fillText("waiting for a waterfall…", 10, 20); return; }
  const rows = w.image.length, cols = w.image[0].length;
  const cw = canvas.width / cols, ch = canvas.height / rows;
  w.image.forEach((row, i) => row.forEach((v, j) => { ctx.fillStyle = heat(v); ctx.fillRect(j * cw, i * ch, cw + 1, ch + 1); }));
  ctx.lineWidth = 2; ctx.font = "11px sans-serif";
  (w.lines || []).forEach((l) => { // time runs down, channels run across
    const y0 = ((l.t_entry_s - w.t0_s) / w.duration_s) * canvas.height, y1 = ((l.t_exit_s - w.t0_s) / w.duration_s) * canvas.height;
    const x0 = (l.speed_kmh >= 0 ? 0 : 1) * canvas.width, x1 = canvas.width - x0;
    ctx.strokeStyle = l.class === "truck" ? "#f85149" : "#58a6ff";
    ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.stroke();
    ctx.fillStyle = "#fff"; ctx.fillText(`${l.class} ${fmt(l.speed_kmh, 0)} km/h`, (x0 + x1) / 2 + 4, (y0 + y1) / 2);
  });
}

// ---- LiDAR ----
async function loadLidar() {
  const d = await getJSON("/api/lidar");
  $("#lidar-summary").textContent = `${d.tracks.filter((t) => t.points.length > 1).length} global trajectories · ${d.links ?? 0} cross-sensor links · ${d.sensors.length} sensors`;
  const canvas = $("#lidar-top"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const b = d.bounds || { xmin: 0, xmax: 60, ymin: -5, ymax: 5 };
  const sx = canvas.width / (b.xmax - b.xmin), sy = canvas.height / (b.ymax - b.ymin), s = Math.min(sx, sy);
  const dy = (canvas.height - (b.ymax - b.ymin) * s) / 2; // centre a long, narrow walkway
  const X = (x) => (x - b.xmin) * s, Y = (y) => canvas.height - dy - (y - b.ymin) * s;
  d.sensors.forEach((sensor) => {
    ctx.strokeStyle = "#26313c"; ctx.beginPath(); ctx.arc(X(sensor.x), Y(sensor.y), (sensor.range_m || 8) * s, 0, 2 * Math.PI); ctx.stroke();
    ctx.fillStyle = "#8b98a5"; ctx.fillRect(X(sensor.x) - 3, Y(sensor.y) - 3, 6, 6); ctx.fillText(sensor.id, X(sensor.x) + 5, Y(sensor.y) - 5);
  });
  d.tracks.forEach((t) => {
    const key = String(t.id), hue = [...key].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 360, 7);
    const color = `hsl(${hue},80%,60%)`;
    ctx.strokeStyle = color; ctx.fillStyle = color;
    if (t.points.length === 1) { // a live per-sensor track: a dot where the person is now
      const [x, y] = t.points[0];
      ctx.beginPath(); ctx.arc(X(x), Y(y), 4, 0, 2 * Math.PI); ctx.fill();
      return;
    }
    ctx.beginPath();
    t.points.forEach(([x, y], i) => (i ? ctx.lineTo(X(x), Y(y)) : ctx.moveTo(X(x), Y(y))));
    ctx.stroke();
    const [lx, ly] = t.points[t.points.length - 1] || [0, 0];
    ctx.fillText(`#${key}`, X(lx) + 3, Y(ly) - 3);
  });
}

// ---- FL, ED-ViT, deployments ----
async function loadFl() {
  const d = await getJSON("/api/fl");
  $("#fl-summary").textContent = `${d.rounds.length} rounds · ${fmt(d.bytes_total / 1024, 1)} KiB exchanged`;
  fillRows($("#fl-rounds tbody"), d.rounds.slice().reverse(), (r) => [r.round, esc(r.strategy), esc(r.task), esc((r.participants || []).join(", ")), fmt(r.metric, 4), r.bytes]);
  drawSeries($("#fl-curve"), d.rounds, [["metric", "#58a6ff", "metric per round"], ["bytes", "#d29922", "bytes per round"]]);
}
async function loadEdvit() {
  const d = await getJSON("/api/edvit");
  $("#edvit-summary").textContent = `${d.requests.length} recent requests · ${d.partial} partial`;
  fillRows($("#edvit-requests tbody"), d.requests, (r) => [new Date(r.ts * 1000).toLocaleTimeString(),
    `${esc(r.label)}${r.truth === undefined ? "" : r.truth === r.label ? " ✓" : ` ✗ (${esc(r.truth)})`}`,
    r.partial ? `yes: ${esc((r.missing || []).join(", "))} missing` : "no", fmt(r.total_ms, 1),
    esc(Object.entries(r.per_device_ms || {}).map(([k, v]) => `${k}: ${fmt(v, 1)}`).join(" · "))]);
}
async function loadDeployments() {
  const d = await getJSON("/api/device-deployments");
  fillRows($("#deploy-table tbody"), d.deployments, (j) => [esc(j.job), esc(j.model), esc(j.device), esc(j.state), ago(j.ts), esc(j.detail || "")]);
}

// ---- SPARQL console ----
async function loadQueries() {
  if (state.queries.length) return;
  state.queries = (await getJSON("/api/queries")).queries;
  $("#query-select").innerHTML = state.queries.map((q, i) => `<option value="${i}">${esc(q.name)} — ${esc(q.description)}</option>`).join("");
  if (state.queries.length) $("#query-text").value = state.queries[0].sparql;
}
$("#query-select").addEventListener("change", (e) => { $("#query-text").value = state.queries[e.target.value].sparql; });
$("#query-run").addEventListener("click", async () => {
  const started = performance.now();
  $("#query-status").textContent = "running…";
  const response = await fetch("/sparql", { method: "POST", headers: { "Content-Type": "application/sparql-query", Accept: "application/sparql-results+json" }, body: $("#query-text").value });
  const text = await response.text();
  if (!response.ok) { $("#query-status").textContent = text; $("#query-result").innerHTML = ""; return; }
  const result = JSON.parse(text);
  const vars = result.head.vars || [], rows = result.results ? result.results.bindings : [];
  $("#query-status").textContent = `${rows.length} rows in ${(performance.now() - started).toFixed(0)} ms`;
  $("#query-result").innerHTML = `<thead><tr>${vars.map((v) => `<th>${esc(v)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${vars.map((v) => `<td>${esc(r[v] ? r[v].value : "")}</td>`).join("")}</tr>`).join("")}</tbody>`;
});

// ---- alarms ----
function showAlarms(alarms) {
  $("#alarm-count").textContent = alarms.length ? `(${alarms.length})` : "";
  $("#alarm-list").innerHTML = alarms.length
    ? alarms.map((a) => `<li class="sev-${esc(a.severity)}">${esc(a.severity)}: ${esc(a.message)}</li>`).join("")
    : '<li class="muted">no alarms</li>';
}

// ---- refresh and live updates ----
const loaders = { fleet: loadFleet, das: loadDas, lidar: loadLidar, fl: loadFl, edvit: loadEdvit, deployments: loadDeployments, sparql: loadQueries, alarms: loadFleet };
const pending = new Set();
let timer = null;
function refresh(id) {
  pending.add(id);
  if (timer) return;
  timer = setTimeout(async () => {
    timer = null;
    const ids = [...pending]; pending.clear();
    for (const tab of ids) { try { await loaders[tab](); } catch (err) { console.warn(tab, err); } }
  }, 250);
}
function current() { return (location.hash || "#fleet").slice(1); }
const topicOf = { td: "fleet", state: "fleet", health: "fleet", deploy: "deployments", fl: "fl", edvit: "edvit", lidar: "lidar", das: "das" };
function connect() {
  const source = new EventSource("/api/events");
  source.onopen = () => { $("#live").className = "pill on"; };
  source.onerror = () => { $("#live").className = "pill off"; };
  source.onmessage = (message) => {
    const event = JSON.parse(message.data);
    document.body.dataset.lastEvent = String(Date.now());
    document.body.dataset.events = String(Number(document.body.dataset.events || 0) + 1);
    const tab = topicOf[event.kind] || (event.kind === "result" ? (event.task_kind || "fleet") : "fleet");
    if (tab === current() || current() === "fleet" || current() === "alarms") refresh(current());
  };
}
showTab();
connect();
setInterval(() => refresh(current()), 10000);
