// Charts for the dashboard. Time series and per-round curves use uPlot (vendored, MIT): real
// axes with units, hover values in the legend. The DAS waterfall and the LiDAR top view are
// drawn on a canvas with their own axes (and a metre scale on the top view); every text label
// on them is an HTML element placed so that no two overlap (placeLabels), which keeps them
// readable at phone width and lets the browser tests check their boxes.
"use strict";
const Charts = (() => {
  const AXIS = { stroke: "#8b98a5", grid: { stroke: "#26313c", width: 1 }, ticks: { stroke: "#26313c", width: 1 },
    labelFont: "12px system-ui, sans-serif", font: "11px system-ui, sans-serif" };
  const plots = new Map();

  /** Say what would fill an empty chart (and how), instead of an empty box. */
  function showEmpty(el, message) {
    const plot = plots.get(el);
    if (plot) { plot.destroy(); plots.delete(el); }
    el.dataset.state = "empty";
    el.innerHTML = `<p class="empty">${message}</p>`;
  }

  function fmtValue(v, digits, unit) {
    return v === null || v === undefined || Number.isNaN(v) ? "–" : `${Number(v).toFixed(digits)}${unit ? " " + unit : ""}`;
  }

  /** A uPlot line chart in ``el``. spec: {x: {label, time}, axes: [{label, scale, range}],
   *  series: [{label, color, scale, unit, digits, values}], xs: [...]} */
  function line(el, spec) {
    const width = Math.max(200, el.clientWidth || 600), height = spec.height || 200;
    const data = [spec.xs, ...spec.series.map((s) => s.values)];
    const key = JSON.stringify([spec.series.map((s) => s.label), spec.axes.map((a) => a.label), width]);
    const existing = plots.get(el);
    el.dataset.state = "data";
    el.dataset.axes = [spec.x.label, ...spec.axes.map((a) => a.label)].join("|");
    if (existing && existing.key === key) { existing.setData(data); return existing; }
    if (existing) existing.destroy();
    el.innerHTML = "";
    const scales = { x: { time: !!spec.x.time } };
    spec.axes.forEach((a) => { scales[a.scale] = a.range ? { range: a.range } : {}; });
    const opts = {
      width, height, scales, legend: { live: true },
      axes: [{ ...AXIS, label: spec.x.label, ...(spec.x.time ? {} : { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }) },
        ...spec.axes.map((a, i) => ({ ...AXIS, label: a.label, scale: a.scale, side: i ? 1 : 3,
          grid: { ...AXIS.grid, show: i === 0 }, size: 56 }))],
      series: [{ label: spec.x.label, value: spec.x.time ? "{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}" : (u, v) => fmtValue(v, 0) },
        ...spec.series.map((s) => ({ label: s.label, stroke: s.color, scale: s.scale, width: 2, spanGaps: true,
          points: { show: data[0].length < 60, size: 5, fill: s.color },
          value: (u, v) => fmtValue(v, s.digits ?? 1, s.unit) }))],
    };
    const plot = new uPlot(opts, data, el);
    plot.key = key;
    plots.set(el, plot);
    return plot;
  }

  window.addEventListener("resize", () => {
    for (const [el, plot] of plots) plot.setSize({ width: Math.max(200, el.clientWidth), height: plot.height });
  });

  // ---- canvas figures with axes ----
  function niceStep(span, target) {
    const raw = span / Math.max(1, target), mag = 10 ** Math.floor(Math.log10(raw || 1));
    return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  }
  function ticks(lo, hi, target) {
    const step = niceStep(hi - lo, target), out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
    return out;
  }

  /** A canvas sized to its box (sharp on high-DPI screens) with an overlay for HTML labels. */
  function surface(holder, cssHeight) {
    holder.classList.add("figure");
    let canvas = holder.querySelector("canvas"), overlay = holder.querySelector(".labels");
    if (!canvas) {
      holder.innerHTML = '<div class="plot-area"><canvas></canvas><div class="labels"></div></div><p class="figure-note muted"></p>';
      canvas = holder.querySelector("canvas"); overlay = holder.querySelector(".labels");
    }
    holder.querySelector(".figure-note").textContent = "";
    const W = Math.max(200, holder.clientWidth), H = cssHeight(W), dpr = window.devicePixelRatio || 1;
    canvas.style.width = `${W}px`; canvas.style.height = `${H}px`;
    canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    overlay.innerHTML = "";
    holder.dataset.state = "data";
    return { ctx, overlay, W, H };
  }

  /** Axes around ``box`` for x in [x0, x1] and y in [y0, y1] (y grows downwards when ``down``). */
  function axes(ctx, box, x, y, down) {
    ctx.strokeStyle = "#8b98a5"; ctx.fillStyle = "#8b98a5"; ctx.lineWidth = 1; ctx.font = "11px system-ui, sans-serif";
    ctx.strokeRect(box.left, box.top, box.width, box.height);
    const X = (v) => box.left + ((v - x.lo) / (x.hi - x.lo)) * box.width;
    const Y = (v) => down ? box.top + ((v - y.lo) / (y.hi - y.lo)) * box.height : box.top + box.height - ((v - y.lo) / (y.hi - y.lo)) * box.height;
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    ticks(x.lo, x.hi, Math.max(2, Math.floor(box.width / 70))).forEach((v) => {
      ctx.beginPath(); ctx.moveTo(X(v), box.top + box.height); ctx.lineTo(X(v), box.top + box.height + 4); ctx.stroke();
      ctx.fillText(String(v), X(v), box.top + box.height + 6);
    });
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    ticks(y.lo, y.hi, Math.max(2, Math.floor(box.height / 40))).forEach((v) => {
      ctx.beginPath(); ctx.moveTo(box.left - 4, Y(v)); ctx.lineTo(box.left, Y(v)); ctx.stroke();
      ctx.fillText(String(v), box.left - 6, Y(v));
    });
    ctx.textAlign = "center"; ctx.textBaseline = "bottom";
    ctx.fillText(x.label, box.left + box.width / 2, box.top + box.height + 34);
    ctx.save(); ctx.translate(12, box.top + box.height / 2); ctx.rotate(-Math.PI / 2); ctx.textBaseline = "middle";
    ctx.fillText(y.label, 0, 0); ctx.restore();
    ctx.textAlign = "left"; ctx.textBaseline = "alphabetic";
    return { X, Y };
  }

  function overlaps(a, b) { return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h; }

  /** Place each {x, y, text, color} label next to its anchor where it overlaps no label placed
   *  before it (nor ``avoid`` boxes); a label with no free spot is left out and counted. */
  function placeLabels(overlay, items, bounds, avoid = []) {
    const placed = [...avoid];
    let hidden = 0;
    items.forEach((item) => {
      const el = document.createElement("span");
      el.className = "chart-label"; el.textContent = item.text;
      if (item.color) el.style.borderColor = item.color;
      overlay.appendChild(el);
      const w = el.offsetWidth, h = el.offsetHeight;
      const spots = [];
      for (const ring of [1, 2, 3]) {
        const d = 4 + (ring - 1) * (h + 2);
        spots.push([d, -h - d + 4], [d, d - 4], [-w - d, -h - d + 4], [-w - d, d - 4], [-w / 2, -h - d], [-w / 2, d]);
      }
      const spot = spots.map(([dx, dy]) => ({ x: item.x + dx, y: item.y + dy, w, h }))
        .find((b) => b.x >= bounds.left && b.y >= bounds.top && b.x + b.w <= bounds.right && b.y + b.h <= bounds.bottom
          && !placed.some((p) => overlaps(b, p)));
      if (!spot) { el.remove(); hidden += 1; return; }
      el.style.left = `${spot.x}px`; el.style.top = `${spot.y}px`;
      placed.push(spot);
    });
    return hidden;
  }

  /** A line under a figure (legend, how many labels did not fit). */
  function note(overlay, text) { overlay.closest(".figure").querySelector(".figure-note").textContent = text; }

  return { line, showEmpty, surface, axes, placeLabels, note, ticks, niceStep, fmtValue };
})();
