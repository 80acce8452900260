// Fleet dashboard: plain JS, no build step. Data comes from /api/*; live updates arrive as
// server-sent events on /api/events and trigger a (throttled) refresh of what they touch.
// Charts (charts.js) use the vendored uPlot. Every panel says what would fill it when empty.
"use strict";
const $ = (sel) => document.querySelector(sel);
const state = { device: null, queries: [], pages: {} };
const PAGE = window.matchMedia("(max-width: 600px)").matches ? 6 : 15;   // rows per page (fewer on a phone)

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
const fmt = (value, digits = 1, unit = "") => Charts.fmtValue(value, digits, unit.trim());

/** Rows of ``table`` (one page of PAGE, with a pager under long tables), or, with no rows, one
 *  row that says what would fill the table. Each cell carries its column name (phone layout). */
function fillRows(table, rows, cells, { empty, onClick } = {}) {
  const tbody = table.querySelector("tbody"), heads = [...table.querySelectorAll("thead th")].map((th) => th.textContent);
  const id = table.id, pages = Math.max(1, Math.ceil(rows.length / PAGE));
  const page = Math.min(state.pages[id] || 0, pages - 1), shown = rows.slice(page * PAGE, (page + 1) * PAGE);
  table.dataset.rows = String(rows.length);
  tbody.innerHTML = shown.length
    ? shown.map((row, i) => `<tr data-i="${i}">${cells(row).map((c, k) => `<td data-label="${esc(heads[k] || "")}">${c}</td>`).join("")}</tr>`).join("")
    : `<tr class="empty-row"><td colspan="${heads.length}" class="empty">${empty || "nothing yet"}</td></tr>`;
  if (onClick) tbody.querySelectorAll("tr[data-i]").forEach((tr) => tr.addEventListener("click", () => onClick(shown[tr.dataset.i])));
  let pager = table.parentElement.nextElementSibling;
  if (!pager || !pager.classList.contains("pager")) {
    pager = document.createElement("div"); pager.className = "pager";
    table.parentElement.after(pager);
  }
  pager.hidden = pages < 2;
  pager.innerHTML = `<button data-step="-1" ${page ? "" : "disabled"}>‹ newer</button>
    <span>${page * PAGE + 1}–${Math.min(rows.length, (page + 1) * PAGE)} of ${rows.length}</span>
    <button data-step="1" ${page < pages - 1 ? "" : "disabled"}>older ›</button>`;
  pager.querySelectorAll("button").forEach((b) => b.addEventListener("click", () => {
    state.pages[id] = page + Number(b.dataset.step); refresh(current());
  }));
}

// ---- tabs (hash routing, so a tab can be linked and opened directly) ----
function current() {
  const id = (location.hash || "#fleet").slice(1);
  return document.getElementById(id)?.classList.contains("tab") ? id : "fleet";
}
function showTab() {
  const id = current();
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.id === id));
  document.querySelectorAll("#tabs a").forEach((a) => a.classList.toggle("active", a.hash === `#${id}`));
  refresh(id);
}
window.addEventListener("hashchange", showTab);

// ---- header and alarms: on every tab ----
async function loadSummary() {
  const data = await getJSON("/api/fleet");
  const online = data.devices.filter((d) => d.online).length;
  $("#summary").textContent = `${online}/${data.devices.length} devices online · ${data.results_total ?? 0} results stored`;
  showAlarms(data.alarms || []);
  return data;
}
function showAlarms(alarms) {
  $("#alarm-count").textContent = alarms.length ? `(${alarms.length})` : "";
  $("#alarm-list").innerHTML = alarms.length
    ? alarms.map((a) => `<li class="sev-${esc(a.severity)}">${esc(a.severity)}: ${esc(a.message)}</li>`).join("")
    : '<li class="empty">No alarms. Offline devices, growing outbox backlogs, dropped results and failed or refused deployments appear here.</li>';
}

// ---- fleet ----
async function loadFleet() {
  const data = await loadSummary();
  fillRows($("#fleet-table"), data.devices, (d) => [
    `<a href="#fleet" data-device="${esc(d.id)}">${esc(d.id)}</a>`,
    `<span class="${d.online ? "online" : "offline"}" data-status="${d.online ? "online" : "offline"}">${d.online ? "online" : "offline"}</span>`,
    esc(d.profile || "no profile"), esc(d.tasks_summary), fmt(d.backlog, 0), ago(d.last_seen),
    `<span>${fmt(d.cpu, 0, " %")} <span class="muted">/ host ${fmt(d.host_cpu, 0, " %")}</span></span>`, fmt(d.mem_mb, 0, " MB"),
    d.temp_c === null || d.temp_c === undefined ? '<span class="muted" title="the board reports no readable temperature sensor">no sensor</span>' : fmt(d.temp_c, 1, " °C"),
  ], { onClick: (d) => loadDevice(d.id),
    empty: "No devices yet. Start one with <code>edge-runtime agent --device-id NAME --broker mqtt://HOST:1883 --profile auto</code> or run <code>cloud-sync demo</code>." });
  if (state.device) loadDevice(state.device, true);
  await loadScale();
}

// ---- fleet-scale figures (/api/scale: what /metrics says) ----
const ingestHistory = { ts: [], rate: [], pending: [] };
async function loadScale() {
  let s;
  try { s = await getJSON("/api/scale"); } catch (err) {
    Charts.showEmpty($("#scale-chart"), "Fleet-scale figures come from the coordinator's <code>/api/scale</code> (the same as <code>/metrics</code>); this server has none.");
    return;
  }
  const figures = [["ingest", `${fmt(s.ingest?.rate_per_s, 1)} msg/s`], ["received", s.ingest?.received], ["stored", s.ingest?.stored],
    ["duplicates", s.ingest?.duplicates], ["pending", s.ingest?.pending], ["events dropped", s.ingest?.events_dropped],
    ["rejected", Object.values(s.ingest?.rejected || {}).reduce((a, b) => a + b, 0)], ["event queue", s.event_queue],
    ["outbox backlog", s.outbox_backlog?.total], ["largest backlog", s.outbox_backlog?.max],
    ["devices with backlog", s.outbox_backlog?.devices_with_backlog],
    ["receipts sent", s.receipts?.sent], ["receipts unsent", s.receipts?.unsent],
    ...Object.entries(s.devices || {}).map(([k, v]) => [`devices ${k}`, v]),
    ...Object.entries(s.graph || {}).filter(([, v]) => typeof v === "number").map(([k, v]) => [`graph ${k.replace(/_/g, " ")}`, v])];
  $("#scale").innerHTML = figures.filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${esc(typeof v === "number" ? v.toLocaleString() : v)}</dd></div>`).join("");
  const now = Date.now() / 1000;
  if (ingestHistory.ts.length && now - ingestHistory.ts[ingestHistory.ts.length - 1] < 5) return;   // one sample per 5 s
  ingestHistory.ts.push(now); ingestHistory.rate.push(s.ingest?.rate_per_s ?? null); ingestHistory.pending.push(s.ingest?.pending ?? null);
  if (ingestHistory.ts.length > 180) Object.values(ingestHistory).forEach((a) => a.shift());
  if (ingestHistory.ts.length < 2) { Charts.showEmpty($("#scale-chart"), "Ingest rate: the curve starts with the next refresh."); return; }
  Charts.line($("#scale-chart"), { height: 150, x: { label: "time", time: true }, xs: ingestHistory.ts,
    axes: [{ label: "ingest (messages/s)", scale: "r" }, { label: "pending", scale: "p" }],
    series: [{ label: "ingest rate", color: "#58a6ff", scale: "r", unit: "msg/s", values: ingestHistory.rate },
      { label: "pending", color: "#d29922", scale: "p", digits: 0, values: ingestHistory.pending }] });
}
async function loadDevice(id, quiet) {
  state.device = id;
  const d = await getJSON(`/api/device/${encodeURIComponent(id)}`);
  $("#device-page").hidden = false;
  $("#device-title").textContent = `${id} — ${d.online ? "online" : "offline"}`;
  $("#device-td").textContent = JSON.stringify(d.td || {}, null, 2);
  $("#device-deployments").innerHTML = table(["job", "model", "state", "updated"], d.deployments || []);
  const h = d.health || [];
  if (!h.length) Charts.showEmpty($("#health-chart"), "No heartbeats yet: the agent sends one every heartbeat interval (<code>--heartbeat</code>).");
  else Charts.line($("#health-chart"), {
    x: { label: "time", time: true }, xs: h.map((r) => r.ts),
    axes: [{ label: "CPU (%)", scale: "%", range: [0, 100] }, { label: "agent memory (MB)", scale: "MB" }],
    series: [{ label: "agent CPU", color: "#58a6ff", scale: "%", unit: "%", digits: 0, values: h.map((r) => r.cpu ?? null) },
      { label: "host CPU", color: "#8b98a5", scale: "%", unit: "%", digits: 0, values: h.map((r) => r.host_cpu ?? null) },
      { label: "agent memory", color: "#3fb950", scale: "MB", unit: "MB", digits: 0, values: h.map((r) => r.mem_mb ?? null) }],
  });
  const temps = h.filter((r) => r.temp_c !== null && r.temp_c !== undefined);
  if (!temps.length) Charts.showEmpty($("#temp-chart"), "Temperature: this board reports no readable sensor (psutil.sensors_temperatures() is empty).");
  else Charts.line($("#temp-chart"), { height: 140, x: { label: "time", time: true }, xs: temps.map((r) => r.ts),
    axes: [{ label: "temperature (°C)", scale: "C" }],
    series: [{ label: "SoC temperature", color: "#d29922", scale: "C", unit: "°C", values: temps.map((r) => r.temp_c) }] });
  if (!quiet) $("#device-page").scrollIntoView({ behavior: "smooth" });
}
function table(columns, rows) {
  if (!rows.length) return '<p class="empty">No deployments on this device. <code>cloud-sync deploy MODEL --device ID</code> sends a signed model.</p>';
  return `<table><thead><tr>${columns.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${columns.map((c) => `<td data-label="${esc(c)}">${esc(c === "updated" ? ago(r[c]) : typeof r[c] === "object" ? JSON.stringify(r[c]) : r[c])}</td>`).join("")}</tr>`)
    .join("")}</tbody></table>`;
}

function heat(v) { // 0..1 -> dark blue .. yellow
  const r = Math.round(255 * Math.min(1, v * 2)), g = Math.round(255 * Math.max(0, v * 1.6 - 0.3)), b = Math.round(120 * (1 - v));
  return `rgb(${r},${g},${b})`;
}

// ---- DAS ----
async function loadDas() {
  const d = await getJSON("/api/das");
  $("#das-summary").textContent = `${d.vehicles_total} vehicles detected by ${d.devices.length} fibre(s)`;
  const hint = "Appears when a device runs a <code>das</code> task (a fibre file or stream in its config); the demo runs one on pi4-a and x86.";
  fillRows($("#das-minutes"), d.per_minute, (m) => [esc(m.minute), esc(m.device), m.count, m.cars ?? "–", m.trucks ?? "–",
    `${fmt(m.mean_speed_increasing_kmh, 0)} → / ${fmt(m.mean_speed_decreasing_kmh, 0)} ←`], { empty: `No per-minute counts yet. ${hint}` });
  fillRows($("#das-events"), d.events, (e) => [new Date(e.ts * 1000).toLocaleTimeString(), esc(e.device), esc(e.vehicle_id ?? e.id), esc(e.class), fmt(e.speed_kmh), fmt(e.confidence, 2)],
    { empty: `No vehicles yet. ${hint}` });
  const w = d.waterfall, holder = $("#das-waterfall");
  if (!w || !w.image || !w.image.length) { Charts.showEmpty(holder, `No waterfall yet: the DAS task sends one per processed minute. ${hint}`); return; }
  const { ctx, overlay, W, H } = Charts.surface(holder, (width) => Math.min(420, Math.max(240, width * 0.5)));
  const box = { left: 52, top: 8, width: W - 70, height: H - 50 };
  const rows = w.image.length, cols = w.image[0].length, cw = box.width / cols, ch = box.height / rows;
  w.image.forEach((row, i) => row.forEach((v, j) => { ctx.fillStyle = heat(v); ctx.fillRect(box.left + j * cw, box.top + i * ch, cw + 0.5, ch + 0.5); }));
  const { X, Y } = Charts.axes(ctx, box, { lo: 0, hi: cols, label: "position along the fibre (channel bin)" },
    { lo: 0, hi: w.duration_s, label: "time in window (s)" }, true);
  holder.dataset.axes = "position along the fibre (channel bin)|time in window (s)";
  ctx.lineWidth = 2;
  const labels = (w.lines || []).map((l) => { // time runs down, channels run across
    const y0 = Y(l.t_entry_s - w.t0_s), y1 = Y(l.t_exit_s - w.t0_s);
    const x0 = l.speed_kmh >= 0 ? X(0) : X(cols), x1 = l.speed_kmh >= 0 ? X(cols) : X(0);
    const color = l.class === "truck" ? "#f85149" : "#58a6ff";
    ctx.strokeStyle = color; ctx.beginPath(); ctx.moveTo(x0, y0); ctx.lineTo(x1, y1); ctx.stroke();
    return { x: (x0 + x1) / 2, y: (y0 + y1) / 2, text: `${l.class || "vehicle"} ${fmt(Math.abs(l.speed_kmh), 0)} km/h ${l.speed_kmh >= 0 ? "→" : "←"}`, color };
  });
  const hidden = Charts.placeLabels(overlay, labels, { left: box.left, top: box.top, right: box.left + box.width, bottom: box.top + box.height });
  Charts.note(overlay, `${labels.length} vehicle lines (blue car, red truck)${hidden ? ` · ${hidden} labels not shown for lack of room` : ""}`);
}

// ---- LiDAR ----
async function loadLidar() {
  const d = await getJSON("/api/lidar");
  const trajectories = d.tracks.filter((t) => t.points.length > 1);
  const health = d.health || [], unwell = health.filter((h) => h.status !== "ok");
  $("#lidar-summary").textContent = `${trajectories.length} global trajectories · ${d.links ?? 0} cross-sensor links · ${d.sensors.length} sensors`
    + (unwell.length ? ` · ${unwell.length} sensor(s) not ok (see Sensor health)` : "");
  fillRows($("#lidar-health"), health, (h) => [esc(h.sensor), esc(h.device), `<span class="state-${esc(h.status)}">${esc(h.status)}</span>`,
    h.since ? ago(h.since) : "–", esc((h.issues || []).join("; ") || (h.status === "ok" ? "floor, background and coverage plausible" : "reason not reported yet"))],
    { empty: "No LiDAR sensor has reported yet. Each <code>lidar</code> task reports ok / degraded / blind (floor, background, beam coverage) with its tracks." });
  const holder = $("#lidar-top");
  if (!d.tracks.length && !d.sensors.length) {
    Charts.showEmpty(holder, "No LiDAR tracks yet. Appears when devices run <code>lidar</code> tasks and the coordinator links their tracks (the demo runs three sensors on a 60 m walkway).");
    return;
  }
  const b = d.bounds || { xmin: 0, xmax: 60, ymin: -5, ymax: 5 };
  const spanX = b.xmax - b.xmin, spanY = b.ymax - b.ymin;
  const { ctx, overlay, W, H } = Charts.surface(holder, (width) => Math.max(120, Math.min(480, (width - 62) * (spanY / spanX) + 70)));
  const box = { left: 44, top: 8, width: W - 62, height: H - 62 };
  const s = Math.min(box.width / spanX, box.height / spanY);            // one scale: metres are metres
  box.width = spanX * s; box.height = spanY * s;
  const { X, Y } = Charts.axes(ctx, box, { lo: b.xmin, hi: b.xmax, label: "x (m)" }, { lo: b.ymin, hi: b.ymax, label: "y (m)" }, false);
  holder.dataset.axes = "x (m)|y (m)";
  const labels = [];
  ctx.save(); ctx.beginPath(); ctx.rect(box.left, box.top, box.width, box.height); ctx.clip();   // ranges stay inside
  d.sensors.forEach((sensor) => {
    ctx.strokeStyle = "#26313c"; ctx.beginPath(); ctx.arc(X(sensor.x), Y(sensor.y), (sensor.range_m || 8) * s, 0, 2 * Math.PI); ctx.stroke();
    ctx.fillStyle = "#8b98a5"; ctx.fillRect(X(sensor.x) - 3, Y(sensor.y) - 3, 6, 6);
    labels.push({ x: X(sensor.x), y: Y(sensor.y), text: sensor.id, color: "#8b98a5" });
  });
  d.tracks.forEach((t) => {
    const key = String(t.id), hue = [...key].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 360, 7);
    const color = `hsl(${hue},80%,60%)`;
    ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = 2;
    if (t.points.length === 1) { // a live per-sensor track: a dot where the person is now
      const [x, y] = t.points[0];
      ctx.beginPath(); ctx.arc(X(x), Y(y), 3.5, 0, 2 * Math.PI); ctx.fill();
      return;
    }
    ctx.beginPath();
    t.points.forEach(([x, y], i) => (i ? ctx.lineTo(X(x), Y(y)) : ctx.moveTo(X(x), Y(y))));
    ctx.stroke();
    const [lx, ly] = t.points[t.points.length - 1];
    labels.push({ x: X(lx), y: Y(ly), text: `#${key}`, color });
  });
  ctx.restore();
  // metre scale: a round length about a fifth of the view, under the plot at the right
  const metres = Charts.niceStep(spanX / 5, 1), px = metres * s;
  const sx = box.left + box.width - px, sy = box.top + box.height + 40;
  ctx.strokeStyle = "#e6e9ec"; ctx.lineWidth = 2; ctx.beginPath();
  ctx.moveTo(sx, sy - 4); ctx.lineTo(sx, sy); ctx.lineTo(sx + px, sy); ctx.lineTo(sx + px, sy - 4); ctx.stroke();
  ctx.fillStyle = "#e6e9ec"; ctx.textAlign = "center"; ctx.fillText(`${metres} m`, sx + px / 2, sy - 6); ctx.textAlign = "left";
  holder.dataset.scaleM = String(metres);
  const hidden = Charts.placeLabels(overlay, labels, { left: box.left, top: box.top, right: box.left + box.width, bottom: box.top + box.height });
  Charts.note(overlay, `sensors (grey squares, circle = range) · lines: linked trajectories · dots: people seen now${hidden ? ` · ${hidden} labels not shown for lack of room` : ""}`);
}

// ---- FL, ED-ViT, deployments ----
async function loadFl() {
  const d = await getJSON("/api/fl");
  const rounds = d.rounds;
  $("#fl-summary").textContent = `${rounds.length} rounds · ${fmt(d.bytes_total / 1024, 1)} KiB exchanged`;
  const hint = "Rounds appear when <code>cloud-sync fl run TASK --broker URL</code> runs against agents with an <code>fl_client</code> task (the demo runs TinyMetaFed rounds every few seconds).";
  fillRows($("#fl-rounds"), rounds.slice().reverse(), (r) => [r.round, esc(r.strategy), esc(r.task), esc((r.participants || []).join(", ")),
    `${esc(r.metric_name || "metric")} ${fmt(r.metric, 3)}`, fmt(r.bytes / 1024, 1, " KiB")], { empty: `No rounds yet. ${hint}` });
  if (!rounds.length) { Charts.showEmpty($("#fl-curve"), hint); Charts.showEmpty($("#fl-bytes"), hint); return; }
  const evals = rounds.map((r) => r.eval || { [r.metric_name || "metric"]: r.metric });
  const names = [...new Set(evals.flatMap((e) => Object.keys(e)))].filter((k) => !/std|episodes|shots|n_way|k_shot|held_out/.test(k));
  const isAccuracy = names.every((n) => /accuracy/.test(n));
  const colours = ["#58a6ff", "#d29922", "#3fb950", "#bc8cff"];
  Charts.line($("#fl-curve"), {
    x: { label: "round" }, xs: rounds.map((r) => r.round),
    axes: [{ label: isAccuracy ? "accuracy (0–1)" : names.join(", "), scale: "m", range: isAccuracy ? [0, 1] : undefined }],
    series: names.map((n, i) => ({ label: n.replace(/_/g, " ").replace(/^accuracy$/, "accuracy after adaptation"), color: colours[i % 4],
      scale: "m", digits: 3, values: evals.map((e) => (typeof e[n] === "number" ? e[n] : null)) })),
  });
  Charts.line($("#fl-bytes"), { height: 160, x: { label: "round" }, xs: rounds.map((r) => r.round),
    axes: [{ label: "KiB per round", scale: "KiB" }],
    series: [{ label: "sent + received", color: "#d29922", scale: "KiB", unit: "KiB", values: rounds.map((r) => (r.bytes || 0) / 1024) }] });
}
async function loadEdvit() {
  const d = await getJSON("/api/edvit");
  const last = d.requests[0] || {}, hosts = Object.entries(last.hosts || {});
  $("#edvit-summary").textContent = `${d.requests.length} recent requests · ${d.partial} partial` +
    (hosts.length ? ` · sub-models: ${hosts.map(([dev, idx]) => `${dev} (${idx.join(", ")})`).join(", ")}` : "") +
    ((last.idle || []).length ? ` · ${last.idle.join(", ")}: no sub-model placed (memory/compute budget)` : "");
  fillRows($("#edvit-requests"), d.requests, (r) => [new Date(r.ts * 1000).toLocaleTimeString(),
    `${esc(r.label)}${r.truth === undefined ? "" : r.truth === r.label ? " ✓" : ` ✗ (${esc(r.truth)})`}`,
    r.partial ? `yes: ${esc((r.missing || []).join(", "))} missing` : "no", fmt(r.total_ms, 1),
    esc(Object.entries(r.per_device_ms || {}).map(([k, v]) => `${k}: ${fmt(v, 1)}`).join(" · "))],
  { empty: "No split-inference requests yet. Deploy a plan with <code>cloud-sync edvit plan</code> to devices with <code>edvit</code> tasks, then <code>cloud-sync edvit infer IMAGE --plan DIR</code>." });
}
async function loadDeployments() {
  const d = await getJSON("/api/device-deployments");
  fillRows($("#deploy-table"), d.deployments, (j) => [esc(j.job), esc(j.model), esc(j.device), `<span class="state-${esc(j.state)}">${esc(j.state)}</span>`, ago(j.ts), esc(j.detail || "")],
    { empty: "No deployments yet. <code>cloud-sync models add MODEL.tflite</code> signs a model, <code>cloud-sync deploy MODEL --device ID</code> rolls it out; each job's states (downloading → verifying → healthy, or rolled back) show here." });
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
    .map((r) => `<tr>${vars.map((v) => `<td data-label="${esc(v)}">${esc(r[v] ? r[v].value : "")}</td>`).join("")}</tr>`).join("")}</tbody>`;
});

// ---- refresh and live updates ----
const loaders = { fleet: loadFleet, das: loadDas, lidar: loadLidar, fl: loadFl, edvit: loadEdvit, deployments: loadDeployments, sparql: loadQueries, alarms: loadSummary };
const pending = new Set();
let timer = null;
function refresh(id) {
  pending.add(id);
  if (timer) return;
  timer = setTimeout(async () => {
    timer = null;
    const ids = [...pending]; pending.clear();
    if (!ids.includes("fleet") && !ids.includes("alarms")) ids.push("alarms");   // header and alarm count on every tab
    for (const tab of ids) {
      try { await loaders[tab](); document.getElementById(tab).dataset.loaded = String(Date.now()); } catch (err) { console.warn(tab, err); }
    }
  }, 250);
}
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
