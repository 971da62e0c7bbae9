/* groklab report renderer: fills the header and every [data-figure] from the JSON in #groklab-data.
 * Vanilla JS + SVG, no libraries, no network. User text reaches the DOM only through textContent
 * or setAttribute, never through innerHTML. Exposes window.groklabReport = {figures, spectrumStep}. */
(function () {
  "use strict";

  const SVG_NS = "http://www.w3.org/2000/svg";
  const DATA = JSON.parse(document.getElementById("groklab-data").textContent);
  const VIEW = DATA.view;
  const report = { kind: DATA.kind, figures: [], spectrumStep: null };
  window.groklabReport = report;

  const C = {
    train: "#3b5bdb", test: "#e8590c", restricted: "#7048e8", excluded: "#0c8599",
    embed: "#3b5bdb", unembed: "#d6336c", norm: "#495057", auc: "#c2255c", tpr: "#5f3dc4",
    clean: "#2f9e44", memorized: "#e8590c", inverted: "#3b5bdb", muted: "#adb5bd", accent: "#3b5bdb",
  };
  const PALETTE = ["#3b5bdb", "#e8590c", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#d6336c",
    "#5c940d", "#7048e8", "#868e96"];
  const PHASES = {
    comprehension: "#40c057", grokking: "#5c7cfa", memorization: "#fab005", confusion: "#fa5252",
  };
  const BANDS = { memorization: "#fff4e6", "circuit formation": "#f3f0ff", "clean-up": "#ebfbee" };
  const VIRIDIS = [[68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
    [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37]];
  const DIVERGING = [[33, 102, 172], [103, 169, 207], [209, 229, 240], [247, 247, 247],
    [253, 219, 199], [239, 138, 98], [178, 24, 43]];

  // ------------------------------------------------------------------ DOM helpers

  function h(tag, attrs, text) {
    const e = document.createElement(tag);
    setAttrs(e, attrs);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function s(tag, attrs, parent, text) {
    const e = document.createElementNS(SVG_NS, tag);
    setAttrs(e, attrs);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (parent) parent.appendChild(e);
    return e;
  }

  function setAttrs(e, attrs) {
    for (const k in attrs || {}) {
      if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, String(attrs[k]));
    }
  }

  function newSvg(W, H) {
    return s("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img" });
  }

  let uid = 0;
  const nextId = (prefix) => `${prefix}-${++uid}`;

  // ------------------------------------------------------------------ formatting

  const isNum = (v) => typeof v === "number" && isFinite(v);
  const SUP = { "-": "\u207b", 0: "\u2070", 1: "\u00b9", 2: "\u00b2", 3: "\u00b3", 4: "\u2074",
    5: "\u2075", 6: "\u2076", 7: "\u2077", 8: "\u2078", 9: "\u2079" };

  function fmt(v) {
    if (!isNum(v)) return "\u2013";
    if (Number.isInteger(v)) return v.toLocaleString("en-US");
    const a = Math.abs(v);
    if (a >= 1000) return Math.round(v).toLocaleString("en-US");
    if (a >= 0.01) return String(+v.toPrecision(4));
    return v.toExponential(2);
  }

  function fmtPct(v) {
    return isNum(v) ? `${+(100 * v).toFixed(v > 0.999 && v < 1 ? 2 : 1)}%` : "\u2013";
  }

  function fmtTick(v) {
    if (v === 0) return "0";
    const a = Math.abs(v), e = Math.round(Math.log10(a));
    const pow10 = Math.abs(a / 10 ** e - 1) < 1e-9;
    if (a >= 1e6) return pow10 ? `10${[...String(e)].map((c) => SUP[c]).join("")}` : `${+(v / 1e6).toPrecision(3)}M`;
    if (a >= 1000) return `${+(v / 1000).toPrecision(3)}k`;
    if (a >= 0.001) return String(+v.toPrecision(3));
    return pow10 ? `10${[...String(e)].map((c) => SUP[c]).join("")}` : v.toExponential(0);
  }

  function fmtDuration(sec) {
    if (!isNum(sec)) return "\u2013";
    if (sec < 60) return `${+sec.toFixed(1)} s`;
    if (sec < 3600) return `${Math.floor(sec / 60)} min ${Math.round(sec % 60)} s`;
    return `${Math.floor(sec / 3600)} h ${Math.round((sec % 3600) / 60)} min`;
  }

  function fmtValue(v) {
    if (isNum(v)) return fmt(v);
    if (v === null || v === undefined) return "\u2013";
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  }

  // ------------------------------------------------------------------ colour

  function ramp(stops, t) {
    t = Math.min(1, Math.max(0, isNum(t) ? t : 0)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(t)), f = t - i;
    return stops[i].map((c, j) => Math.round(c + f * (stops[i + 1][j] - c)));
  }
  const rgb = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;
  const luminance = (c) => (0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]) / 255;

  function freqColor(k) {
    const keys = VIEW.key_freqs || [];
    const i = keys.indexOf(k);
    return i >= 0 ? PALETTE[i % PALETTE.length] : C.muted;
  }

  const knownPhase = (phase) => Object.hasOwn(PHASES, String(phase).toLowerCase());
  const phaseColor = (phase) => (knownPhase(phase) ? PHASES[String(phase).toLowerCase()] : "#ced4da");

  // ------------------------------------------------------------------ tooltip

  const tip = document.getElementById("tooltip");

  function showTip(ev, head, rows) {
    tip.replaceChildren(h("div", { class: "t-head" }, head));
    for (const r of rows) {
      const row = h("div", { class: "t-row" });
      if (r.color) {
        const dot = h("i");
        dot.style.background = r.color;
        row.appendChild(dot);
      }
      row.appendChild(h("span", {}, r.value === undefined ? r.label : `${r.label}: ${r.value}`));
      tip.appendChild(row);
    }
    tip.hidden = false;
    const pad = 14, w = tip.offsetWidth, hgt = tip.offsetHeight;
    let x = ev.clientX + pad, y = ev.clientY + pad;
    if (x + w > window.innerWidth - 4) x = ev.clientX - w - pad;
    if (y + hgt > window.innerHeight - 4) y = ev.clientY - hgt - pad;
    tip.style.left = `${Math.max(4, x)}px`;
    tip.style.top = `${Math.max(4, y)}px`;
  }

  const hideTip = () => { tip.hidden = true; };

  // ------------------------------------------------------------------ scales and axes

  function linTicks(a, b, n) {
    const span = b - a;
    if (!(span > 0)) return [a];
    const raw = span / n, mag = 10 ** Math.floor(Math.log10(raw)), r = raw / mag;
    const step = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
    const out = [];
    for (let v = Math.ceil(a / step - 1e-9) * step; v <= b + step * 1e-9; v += step) out.push(+v.toPrecision(12));
    return out;
  }

  function logTicks(a, b) {
    const lo = Math.floor(Math.log10(a) + 1e-9), hi = Math.ceil(Math.log10(b) - 1e-9);
    const inside = (v) => v >= a * (1 - 1e-9) && v <= b * (1 + 1e-9);
    let out = [];
    for (let e = lo; e <= hi; e++) out.push(10 ** e);
    out = out.filter(inside);
    if (out.length < 3) {
      out = [];
      for (let e = lo - 1; e <= hi; e++) for (const m of [1, 2, 5]) out.push(+(m * 10 ** e).toPrecision(6));
      out = out.filter(inside);
    }
    const every = Math.ceil(out.length / 7);
    return out.filter((_, i) => i % every === 0);
  }

  function scale(d0, d1, r0, r1, log) {
    const f = log ? Math.log10 : (v) => v;
    const a = f(d0), span = f(d1) - a || 1;
    const sc = (v) => r0 + ((f(v) - a) / span) * (r1 - r0);
    sc.invert = (p) => {
      const u = a + ((p - r0) / (r1 - r0)) * span;
      return log ? 10 ** u : u;
    };
    sc.log = log;
    sc.lo = d0;
    sc.hi = d1;
    sc.ticks = () => (log ? logTicks(d0, d1) : linTicks(d0, d1, 5));
    return sc;
  }

  const valid = (v, log) => isNum(v) && (!log || v > 0);

  function extent(arrays, log) {
    let lo = Infinity, hi = -Infinity;
    for (const arr of arrays) for (const v of arr || []) if (valid(v, log)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    return lo <= hi ? [lo, hi] : null;
  }

  function niceDomain(ext, log, fixed) {
    let [lo, hi] = ext;
    if (fixed && isNum(fixed[0])) lo = fixed[0];
    if (fixed && isNum(fixed[1])) hi = fixed[1];
    if (log) {
      if (!(fixed && isNum(fixed[0]))) lo /= 1.4;
      if (!(fixed && isNum(fixed[1]))) hi *= 1.4;
      return [lo, hi > lo ? hi : lo * 10];
    }
    if (hi === lo) {   // a flat series: widen away from a fixed end (a fraction that stays 0 reads 0..1)
      const fl = fixed && isNum(fixed[0]), fh = fixed && isNum(fixed[1]);
      if (fl && !fh) hi = lo + 1; else if (fh && !fl) lo = hi - 1; else if (!fl && !fh) { lo -= 0.5; hi += 0.5; }
    }
    const t = linTicks(lo, hi, 5), step = t.length > 1 ? t[1] - t[0] : (hi - lo);
    if (!(fixed && isNum(fixed[0]))) lo = Math.floor(lo / step + 1e-9) * step;
    if (!(fixed && isNum(fixed[1]))) hi = Math.ceil(hi / step - 1e-9) * step;
    return [lo, hi];
  }

  function axes(svg, sx, sy, m, W, H, o) {
    const g = s("g", {}, svg);
    for (const t of sy.ticks()) {
      const y = sy(t);
      s("line", { class: "grid", x1: m.l, x2: W - m.r, y1: y, y2: y }, g);
      s("text", { x: m.l - 7, y: y + 3.5, "text-anchor": "end" }, g, o.yFmt ? o.yFmt(t) : fmtTick(t));
    }
    for (const t of sx.ticks()) {
      const x = sx(t);
      s("line", { class: "grid", x1: x, x2: x, y1: m.t, y2: H - m.b }, g);
      s("text", { x, y: H - m.b + 15, "text-anchor": "middle" }, g, fmtTick(t));
    }
    s("line", { class: "domain", x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }, g);
    s("line", { class: "domain", x1: m.l, x2: m.l, y1: m.t, y2: H - m.b }, g);
    if (o.xLabel) s("text", { class: "axis-label", x: (m.l + W - m.r) / 2, y: H - 6, "text-anchor": "middle" }, g, o.xLabel);
    if (o.yLabel) {
      s("text", { class: "axis-label", transform: `translate(13,${(m.t + H - m.b) / 2}) rotate(-90)`,
        "text-anchor": "middle" }, g, o.yLabel);
    }
  }

  function figHead(fig, title, legendItems, extra) {
    const head = h("div", { class: "fig-head" });
    const left = h("div", { class: "fig-title" }, title);
    if (extra) { left.appendChild(document.createTextNode(" ")); left.appendChild(extra); }
    head.appendChild(left);
    const legend = h("div", { class: "legend" });
    for (const it of legendItems || []) {
      const sw = h("i", { class: it.box ? "box" : "" });
      if (it.dash) sw.style.background = `repeating-linear-gradient(90deg, ${it.color} 0 4px, transparent 4px 7px)`;
      else sw.style.background = it.color;
      const item = h("span");
      item.appendChild(sw);
      item.appendChild(document.createTextNode(it.name));
      legend.appendChild(item);
    }
    head.appendChild(legend);
    fig.appendChild(head);
  }

  function phaseBadge(phase) {
    if (!phase) return null;
    const b = h("span", { class: "badge" }, phase);
    if (VIEW.phase_reason) b.title = VIEW.phase_reason;
    b.style.background = phaseColor(phase) + "26";
    b.style.color = "#1d2330";
    b.style.borderColor = phaseColor(phase);
    return b;
  }

  const figWidth = (fig, min) => Math.max(min || 360, Math.round(fig.clientWidth || 520));

  // ------------------------------------------------------------------ line chart

  function nearest(xs, x, sx) {
    let lo = 0, hi = xs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] < x) lo = mid + 1; else hi = mid;
    }
    if (lo > 0 && Math.abs(sx(xs[lo - 1]) - sx(x)) < Math.abs(sx(xs[lo]) - sx(x))) lo -= 1;
    return lo;
  }

  /** Draws series [{name, x, y, color, dash}] against log steps; markers, bands and hover tooltip. */
  function lineChart(fig, o) {
    const series = o.series.filter((se) => se.y && se.y.some((v) => valid(v, o.logY)));
    figHead(fig, o.title, series.map((se) => ({ name: se.name, color: se.color, dash: se.dash })), o.badge);
    const W = figWidth(fig), H = o.height || 250;
    const m = { l: 54, r: 16, t: o.bands && o.bands.length ? 24 : 12, b: 38 };
    const svg = newSvg(W, H);
    fig.appendChild(svg);
    const xExt = extent(series.map((se) => se.x), true);
    const yExt = extent(series.map((se) => se.y), o.logY);
    if (!xExt || !yExt) {
      s("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, svg, "no data to plot");
      return;
    }
    const sx = scale(xExt[0], xExt[1], m.l, W - m.r, true);
    const [y0, y1] = niceDomain(yExt, o.logY, o.yDomain);
    const sy = scale(y0, y1, H - m.b, m.t, o.logY);
    const clampX = (x) => Math.min(W - m.r, Math.max(m.l, sx(x)));

    for (const band of o.bands || []) {
      const x0 = clampX(Math.max(band.x0, xExt[0])), x1 = clampX(Math.min(band.x1, xExt[1]));
      if (!(x1 > x0)) continue;
      s("rect", { x: x0, y: m.t, width: x1 - x0, height: H - m.b - m.t, fill: band.color }, svg);
      if (x1 - x0 > 50) s("text", { class: "band-label", x: (x0 + x1) / 2, y: m.t - 8, "text-anchor": "middle" }, svg, band.label);
    }
    axes(svg, sx, sy, m, W, H, o);
    for (const ref of o.hlines || []) {
      if (!(ref.y >= y0 && ref.y <= y1)) continue;
      s("line", { x1: m.l, x2: W - m.r, y1: sy(ref.y), y2: sy(ref.y), stroke: "#868e96", "stroke-dasharray": "2 3" }, svg);
      s("text", { class: "band-label", x: W - m.r - 4, y: sy(ref.y) - 4, "text-anchor": "end" }, svg, ref.label);
    }
    (o.markers || []).filter((mk) => isNum(mk.x) && mk.x >= xExt[0] && mk.x <= xExt[1]).forEach((mk, i) => {
      const x = sx(mk.x), right = x > W - m.r - 70;
      s("line", { x1: x, x2: x, y1: m.t, y2: H - m.b, stroke: mk.color, "stroke-width": 1.2, "stroke-dasharray": "5 4" }, svg);
      s("text", { class: "marker-label", x: right ? x - 5 : x + 5, y: m.t + 12 + 13 * i,
        "text-anchor": right ? "end" : "start", fill: mk.color, style: `fill:${mk.color}` }, svg, mk.label);
    });

    const clip = nextId("clip");
    s("rect", { x: m.l, y: m.t - 2, width: W - m.l - m.r, height: H - m.b - m.t + 4 }, s("clipPath", { id: clip }, svg));
    const lines = s("g", { "clip-path": `url(#${clip})` }, svg);
    for (const se of series) {
      let d = "", pen = false;
      for (let i = 0; i < se.x.length; i++) {
        if (valid(se.x[i], true) && valid(se.y[i], o.logY)) {
          d += `${pen ? "L" : "M"}${sx(se.x[i]).toFixed(1)},${sy(se.y[i]).toFixed(1)}`;
          pen = true;
        } else pen = false;
      }
      s("path", { class: "series", d, fill: "none", stroke: se.color, "stroke-width": se.width || 1.8,
        "stroke-linejoin": "round", "stroke-dasharray": se.dash ? "6 3" : null }, lines);
    }

    // hover: a rule at the nearest step and one dot per series
    const rule = s("line", { y1: m.t, y2: H - m.b, stroke: "#868e96", "stroke-width": 1, visibility: "hidden" }, svg);
    const dots = series.map((se) => s("circle", { r: 3.5, fill: se.color, stroke: "#fff", "stroke-width": 1.5, visibility: "hidden" }, svg));
    const overlay = s("rect", { x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.b - m.t, fill: "transparent" }, svg);
    overlay.addEventListener("pointermove", (ev) => {
      const box = svg.getBoundingClientRect();
      const px = ((ev.clientX - box.left) / box.width) * W;
      const xv = sx.invert(px);
      const rows = [];
      let step = null;
      series.forEach((se, k) => {
        const i = nearest(se.x, xv, sx);
        const ok = valid(se.x[i], true) && valid(se.y[i], o.logY);
        dots[k].setAttribute("visibility", ok ? "visible" : "hidden");
        if (!ok) return;
        if (step === null) step = se.x[i];
        dots[k].setAttribute("cx", sx(se.x[i]));
        dots[k].setAttribute("cy", sy(se.y[i]));
        rows.push({ color: se.color, label: se.name, value: o.yFmt ? o.yFmt(se.y[i]) : fmt(se.y[i]) });
      });
      if (step === null) return hideTip();
      rule.setAttribute("x1", sx(step));
      rule.setAttribute("x2", sx(step));
      rule.setAttribute("visibility", "visible");
      showTip(ev, `${o.xName || "step"} ${fmt(step)}`, rows);
    });
    overlay.addEventListener("pointerleave", () => {
      rule.setAttribute("visibility", "hidden");
      dots.forEach((d) => d.setAttribute("visibility", "hidden"));
      hideTip();
    });
  }

  // ------------------------------------------------------------------ run figures

  const M = VIEW.metrics || {};
  const S = VIEW.summary || {};
  const P = VIEW.progress || {};

  function runMarkers() {
    return [
      { x: S.t_mem, label: "t_mem", color: C.train },
      { x: S.t_gen, label: "t_gen", color: C.test },
    ];
  }

  function metricChart(fig, title, yLabel, keys, extra) {
    lineChart(fig, Object.assign({
      title, xLabel: "step", yLabel, markers: runMarkers(),
      series: keys.map(([key, name, color, dash]) => ({ name, x: M.step, y: M[key], color, dash })),
    }, extra));
  }

  function progressBands() {
    const ph = P.phases || {}, a = ph.memorization_end, b = ph.circuit_end;
    const bands = [];
    if (isNum(a)) bands.push({ x0: 0, x1: a, label: "memorization", color: BANDS.memorization });
    if (isNum(a) && isNum(b)) bands.push({ x0: a, x1: b, label: "circuit formation", color: BANDS["circuit formation"] });
    if (isNum(b)) bands.push({ x0: b, x1: Infinity, label: "clean-up", color: BANDS["clean-up"] });
    return bands;
  }

  function progressChart(fig, title, yLabel, keys, extra) {
    lineChart(fig, Object.assign({
      title, xLabel: "step", yLabel, bands: progressBands(),
      series: keys.map(([key, name, color, dash]) => ({ name, x: P.step, y: P[key], color, dash })),
    }, extra));
  }

  function spectrumFigure(fig) {
    const sp = VIEW.spectrum, norms = sp.norms, n = norms.length;
    const K = norms[0].length;
    const freqs = sp.freqs && sp.freqs.length === K ? sp.freqs : norms[0].map((_, i) => i + 1);
    const keys = new Set(VIEW.key_freqs || []);
    figHead(fig, "Norm per frequency in W_E", [
      { name: "key frequency", color: C.accent, box: true }, { name: "other", color: "#ced4da", box: true }]);
    const W = figWidth(fig), H = 260, m = { l: 54, r: 16, t: 12, b: 40 };
    const svg = newSvg(W, H);
    fig.appendChild(svg);
    const yExt = extent(norms, false) || [0, 1];
    const sy = scale(0, niceDomain([0, yExt[1]], false)[1], H - m.b, m.t, false);
    const band = (W - m.l - m.r) / K, gap = Math.min(4, band * 0.2);
    const sx = scale(0.5, K + 0.5, m.l, W - m.r, false);
    sx.ticks = () => [];
    axes(svg, sx, sy, m, W, H, { xLabel: "frequency k", yLabel: "norm" });
    // key frequencies always labelled; others every few, where they do not crowd a key label
    const every = Math.ceil(K / 28), placed = [];
    const xOf = (i) => m.l + band * (i + 0.5);
    freqs.forEach((k, i) => { if (keys.has(k)) placed.push(xOf(i)); });
    freqs.forEach((k, i) => {
      const key = keys.has(k), x = xOf(i);
      if (!key && (i % every !== 0 || placed.some((p) => Math.abs(p - x) < 18))) return;
      s("text", { x, y: H - m.b + 15, "text-anchor": "middle", style: key ? `fill:${C.accent};font-weight:600` : null }, svg, k);
    });
    let current = n - 1;
    const bars = freqs.map((k, i) => {
      const bar = s("rect", { class: "bar", x: m.l + band * i + gap / 2, width: Math.max(1, band - gap), rx: Math.min(2, band / 4),
        fill: keys.has(k) ? C.accent : "#ced4da", "data-freq": k }, svg);
      bar.addEventListener("pointermove", (ev) => showTip(ev, `frequency ${k}${keys.has(k) ? " (key)" : ""}`,
        [{ label: "norm", value: fmt(norms[current][i]) }, { label: "step", value: fmt(sp.step ? sp.step[current] : current) }]));
      bar.addEventListener("pointerleave", hideTip);
      return bar;
    });
    const slider = document.getElementById("spectrum-slider");
    const out = document.getElementById("spectrum-step");
    function draw(j) {
      current = j;
      norms[j].forEach((v, i) => {
        const y = sy(isNum(v) ? Math.max(0, v) : 0);
        bars[i].setAttribute("y", y.toFixed(1));
        bars[i].setAttribute("height", (H - m.b - y).toFixed(1));
      });
      const step = sp.step && isNum(sp.step[j]) ? sp.step[j] : j;
      report.spectrumStep = step;
      if (out) out.textContent = `step ${fmt(step)} (${j + 1} of ${n})`;
    }
    if (slider) {
      slider.max = String(n - 1);
      slider.value = String(n - 1);
      slider.addEventListener("input", () => draw(Number(slider.value)));
    }
    draw(n - 1);
  }

  function clockFigure(fig) {
    const ck = VIEW.clock;
    figHead(fig, "Token embeddings on each key frequency's cos/sin plane", []);
    const grid = h("div", { class: "multiples clock" });
    fig.appendChild(grid);
    ck.points.forEach((pts, f) => {
      const k = (ck.freqs || [])[f];
      const p = pts.length, tokens = ck.tokens && ck.tokens.length === p ? ck.tokens : pts.map((_, i) => i);
      const W = 240, H = 250, cx = W / 2, cy = 128, R = 92;
      const cell = h("div", { class: "multiple" });
      grid.appendChild(cell);
      const svg = newSvg(W, H);
      cell.appendChild(svg);
      s("text", { class: "axis-label", x: 8, y: 16, style: "font-weight:600" }, svg, k === undefined ? `#${f + 1}` : `k = ${k}`);
      let lim = 0;
      for (const pt of pts) if (pt && isNum(pt[0]) && isNum(pt[1])) lim = Math.max(lim, Math.abs(pt[0]), Math.abs(pt[1]));
      lim = lim || 1;
      const px = (v) => cx + (v / lim) * R, py = (v) => cy - (v / lim) * R;
      s("line", { class: "grid", x1: cx - R - 8, x2: cx + R + 8, y1: cy, y2: cy }, svg);
      s("line", { class: "grid", x1: cx, x2: cx, y1: cy - R - 8, y2: cy + R + 8 }, svg);
      s("text", { x: W - 8, y: 16, "text-anchor": "end", style: "font-size:10px" }, svg, "x: cos \u00b7 y: sin");
      const radii = pts.filter((pt) => pt && isNum(pt[0]) && isNum(pt[1])).map((pt) => Math.hypot(pt[0], pt[1]) / lim);
      const meanR = radii.length ? radii.reduce((a, b) => a + b, 0) / radii.length : 0;
      s("circle", { cx, cy, r: (meanR * R).toFixed(1), fill: "none", stroke: "#e9ecef", "stroke-dasharray": "3 3" }, svg);
      const labelEvery = p <= 40 ? 1 : p <= 80 ? 5 : 10;
      const radius = p <= 40 ? 4.5 : p <= 80 ? 3.5 : 2.6;
      pts.forEach((pt, i) => {
        if (!pt || !isNum(pt[0]) || !isNum(pt[1])) return;
        const x = px(pt[0]), y = py(pt[1]), color = `hsl(${Math.round((360 * i) / p)},68%,48%)`;
        const dot = s("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: radius, fill: color, stroke: "#fff", "stroke-width": 0.8 }, svg);
        dot.addEventListener("pointermove", (ev) => showTip(ev, `token ${tokens[i]}`, [
          { label: "cos", value: fmt(pt[0]) }, { label: "sin", value: fmt(pt[1]) }]));
        dot.addEventListener("pointerleave", hideTip);
        if (i % labelEvery === 0) {
          const ang = Math.atan2(y - cy, x - cx), off = radius + 7;
          s("text", { x: (x + off * Math.cos(ang)).toFixed(1), y: (y + off * Math.sin(ang) + 3.5).toFixed(1),
            class: "halo", "text-anchor": "middle", style: "font-size:9px", "pointer-events": "none" }, svg, tokens[i]);
        }
      });
    });
  }

  /** A rows × cols heat map drawn to a canvas and embedded in an SVG image, with axes and hover. */
  function heatmap(fig, o) {
    const vals = o.values, R = vals.length, Cn = Math.max(...vals.map((r) => r.length));
    const W = figWidth(fig), m = { l: o.left || 62, r: 70, t: o.top || 10, b: 40 };
    const cellH = Math.min(14, Math.max(1, 460 / R));
    const plotH = Math.max(120, Math.round(cellH * R)), H = m.t + plotH + m.b;
    const plotW = W - m.l - m.r;
    const svg = newSvg(W, H);
    fig.appendChild(svg);
    const canvas = document.createElement("canvas");
    canvas.width = Cn;
    canvas.height = R;
    const ctx = canvas.getContext("2d"), img = ctx.createImageData(Cn, R);
    const [lo, hi] = o.domain;
    for (let i = 0; i < R; i++) {
      for (let j = 0; j < Cn; j++) {
        const v = vals[i][j], c = isNum(v) ? o.cmap((v - lo) / (hi - lo || 1)) : [233, 236, 239];
        const q = 4 * (i * Cn + j);
        img.data[q] = c[0]; img.data[q + 1] = c[1]; img.data[q + 2] = c[2]; img.data[q + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
    s("image", { href: canvas.toDataURL("image/png"), x: m.l, y: m.t, width: plotW, height: plotH,
      preserveAspectRatio: "none", style: "image-rendering:pixelated" }, svg);
    s("rect", { x: m.l, y: m.t, width: plotW, height: plotH, fill: "none", stroke: "#c3c8d0" }, svg);
    const cw = plotW / Cn, rh = plotH / R;

    for (const j of o.colTicks || linTicks(0, Cn - 1, 8).filter(Number.isInteger)) {
      s("text", { x: m.l + cw * (j + 0.5), y: m.t + plotH + 14, "text-anchor": "middle",
        style: o.markCols && o.markCols.has(j) ? `fill:${C.accent};font-weight:700` : null }, svg, o.colLabel ? o.colLabel(j) : j);
    }
    for (const j of o.markCols || []) {
      if (j < 0 || j >= Cn) continue;
      const x = m.l + cw * j;
      s("rect", { x, y: m.t, width: cw, height: plotH, fill: "none", stroke: C.accent, "stroke-width": 1.5 }, svg);
      s("path", { d: `M${x + cw / 2 - 5},${m.t - 9}l10,0l-5,7z`, fill: C.accent }, svg);
    }
    for (const grp of o.rowGroups || []) {
      const y0 = m.t + rh * grp.start, y1 = m.t + rh * grp.end;
      s("rect", { x: m.l - 6, y: y0 + 0.5, width: 4, height: Math.max(1, y1 - y0 - 1), fill: grp.color, rx: 1 }, svg);
      if (y1 - y0 >= 11) s("text", { x: m.l - 10, y: (y0 + y1) / 2 + 3.5, "text-anchor": "end", style: `fill:${grp.color};font-weight:600` }, svg, grp.label);
      if (grp.start > 0) s("line", { x1: m.l, x2: m.l + plotW, y1: y0, y2: y0, stroke: "#fff", "stroke-width": 1.5 }, svg);
    }
    if (o.xLabel) s("text", { class: "axis-label", x: m.l + plotW / 2, y: H - 8, "text-anchor": "middle" }, svg, o.xLabel);
    if (o.yLabel) s("text", { class: "axis-label", transform: `translate(13,${m.t + plotH / 2}) rotate(-90)`, "text-anchor": "middle" }, svg, o.yLabel);

    // colour bar
    const gid = nextId("grad"), grad = s("linearGradient", { id: gid, x1: 0, x2: 0, y1: 1, y2: 0 }, s("defs", {}, svg));
    for (let t = 0; t <= 1.0001; t += 0.1) s("stop", { offset: t.toFixed(2), "stop-color": rgb(o.cmap(t)) }, grad);
    const bx = m.l + plotW + 16, bh = Math.min(plotH, 180);
    s("rect", { x: bx, y: m.t, width: 10, height: bh, fill: `url(#${gid})`, stroke: "#c3c8d0" }, svg);
    const cs = scale(lo, hi, m.t + bh, m.t, false);
    for (const t of linTicks(lo, hi, 4)) s("text", { x: bx + 14, y: cs(t) + 3.5 }, svg, fmtTick(t));
    if (o.cLabel) s("text", { x: bx, y: m.t + bh + 16 }, svg, o.cLabel);

    const overlay = s("rect", { x: m.l, y: m.t, width: plotW, height: plotH, fill: "transparent" }, svg);
    overlay.addEventListener("pointermove", (ev) => {
      const box = svg.getBoundingClientRect();
      const x = ((ev.clientX - box.left) / box.width) * W, y = ((ev.clientY - box.top) / box.height) * H;
      const i = Math.floor((y - m.t) / rh), j = Math.floor((x - m.l) / cw);
      if (i < 0 || i >= R || j < 0 || j >= Cn) return hideTip();
      const t = o.tooltip(i, j, vals[i][j]);
      showTip(ev, t.head, t.rows);
    });
    overlay.addEventListener("pointerleave", hideTip);
  }

  function neuronsFigure(fig) {
    const nr = VIEW.neurons, rows = nr.heatmap, R = rows.length;
    const order = nr.order && nr.order.length === R ? nr.order : rows.map((_, i) => i);
    const freqOf = (i) => (nr.freq ? nr.freq[order[i]] : undefined);
    const groups = [];
    for (let i = 0; i < R; i++) {
      const k = freqOf(i), last = groups[groups.length - 1];
      if (last && last.k === k) last.end = i + 1;
      else groups.push({ k, start: i, end: i + 1, label: k === undefined ? "" : `k ${k}`, color: freqColor(k) });
    }
    let amax = 0;
    for (const r of rows) for (const v of r) if (isNum(v)) amax = Math.max(amax, Math.abs(v));
    amax = amax || 1;
    figHead(fig, `Input weights of ${R} neurons, sorted by frequency`, []);
    heatmap(fig, {
      values: rows, domain: [-amax, amax], cmap: (t) => ramp(DIVERGING, t), rowGroups: groups,
      xLabel: "token", yLabel: "neuron", cLabel: "weight",
      tooltip: (i, j, v) => ({
        head: `neuron ${order[i]}${freqOf(i) === undefined ? "" : ` \u00b7 k = ${freqOf(i)}`}`,
        rows: [{ label: "token", value: j }, { label: "weight", value: fmt(v) }].concat(
          nr.frac_explained ? [{ label: "explained by k", value: fmtPct(nr.frac_explained[order[i]]) }] : []),
      }),
    });
  }

  function starsFigure(fig) {
    const nr = VIEW.neurons, stars = nr.stars, n = stars.length;
    const order = nr.order && nr.order.length === n ? nr.order : stars.map((_, i) => i);
    const keysSeen = [...new Set(order.map((id) => (nr.freq || [])[id]).filter((k) => k !== undefined))];
    figHead(fig, `DFT magnitude per frequency, ${n} neurons`,
      keysSeen.slice(0, 12).map((k) => ({ name: `k ${k}`, color: freqColor(k), box: true })));
    const compact = n > 96;  // many neurons: smaller stars, labels only in the tooltip
    const grid = h("div", { class: compact ? "multiples stars compact" : "multiples stars" });
    fig.appendChild(grid);
    stars.forEach((mags, i) => {
      const id = order[i], k = (nr.freq || [])[id], color = freqColor(k);
      const K = mags.length, W = 72, H = compact ? 72 : 82, cx = 36, cy = 36, R = 31;
      const svg = newSvg(W, H);
      const max = Math.max(...mags.filter(isNum), 1e-12);
      let spokes = "", poly = "";
      mags.forEach((v, f) => {
        const a = -Math.PI / 2 + (2 * Math.PI * f) / K, r = (R * (isNum(v) ? v : 0)) / max;
        spokes += `M${cx},${cy}L${(cx + R * Math.cos(a)).toFixed(1)},${(cy + R * Math.sin(a)).toFixed(1)}`;
        poly += `${f ? "L" : "M"}${(cx + r * Math.cos(a)).toFixed(1)},${(cy + r * Math.sin(a)).toFixed(1)}`;
      });
      s("circle", { cx, cy, r: R, fill: "#fafbfc", stroke: "#e9ecef" }, svg);
      s("path", { d: spokes, stroke: "#eef0f3", "stroke-width": 0.6 }, svg);
      s("path", { d: `${poly}Z`, fill: color, "fill-opacity": 0.35, stroke: color, "stroke-width": 1.1, "stroke-linejoin": "round" }, svg);
      if (!compact) {
        s("text", { x: cx, y: H - 3, "text-anchor": "middle", style: "font-size:9.5px" }, svg,
          k === undefined ? `#${id}` : `#${id} \u00b7 k${k}`);
      }
      const cell = h("div", { class: "multiple" });
      cell.appendChild(svg);
      grid.appendChild(cell);
      svg.addEventListener("pointermove", (ev) => {
        const top = mags.map((v, f) => [v, f]).filter((e) => isNum(e[0])).sort((a, b) => b[0] - a[0]).slice(0, 3);
        const freqs = VIEW.spectrum && VIEW.spectrum.freqs && VIEW.spectrum.freqs.length === K ? VIEW.spectrum.freqs : null;
        showTip(ev, `neuron ${id}${k === undefined ? "" : ` \u00b7 k = ${k}`}`, [
          ...(nr.frac_explained ? [{ label: "explained by k", value: fmtPct(nr.frac_explained[id]) }] : []),
          ...top.map(([v, f]) => ({ label: `freq ${freqs ? freqs[f] : f + 1}`, value: fmt(v) }))]);
      });
      svg.addEventListener("pointerleave", hideTip);
    });
  }

  function parityFigure(fig) {
    const pa = VIEW.parity, rows = pa.weights, bits = new Set(pa.bits || []);
    const Cn = Math.max(...rows.map((r) => r.length));
    let max = 0;
    for (const r of rows) for (const v of r) if (isNum(v)) max = Math.max(max, Math.abs(v));
    figHead(fig, `|weight| from each of ${Cn} input bits to ${rows.length} neurons`,
      [{ name: "relevant bit", color: C.accent, box: true }]);
    const every = Math.ceil(Cn / 30);
    heatmap(fig, {
      values: rows, domain: [0, max || 1], cmap: (t) => ramp(VIRIDIS, t), markCols: bits, top: 16,
      colTicks: [...Array(Cn).keys()].filter((j) => j % every === 0 || bits.has(j)),
      xLabel: "input bit", yLabel: "neuron", cLabel: "|w|",
      tooltip: (i, j, v) => ({ head: `neuron ${i} \u00b7 bit ${j}${bits.has(j) ? " (relevant)" : ""}`,
        rows: [{ label: "|w|", value: fmt(v) }] }),
    });
  }

  // ------------------------------------------------------------------ circuit test (groklab.analysis.circuit)

  const CIRCUIT = VIEW.circuit || {};
  const BASIS_NOUN = { additive: "frequency k", multiplicative: "discrete-log frequency", irreps: "irrep",
    walsh: "Walsh subset", "2d": "2-D frequency (k1,k2)" };

  function circuitSpectrumFigure(fig) {
    const sp = CIRCUIT.spectrum, vals = sp.fractions, n = vals.length;
    const more = sp.n_components > n ? ` (strongest ${n} of ${sp.n_components})` : "";
    figHead(fig, `Logit variance per ${BASIS_NOUN[CIRCUIT.basis] || "component"}${more}, step ${fmt(sp.step)}`,
      [{ name: "key", color: C.accent, box: true }, { name: "other", color: "#ced4da", box: true }]);
    const W = figWidth(fig), H = 250, m = { l: 54, r: 16, t: 12, b: 58 };
    const svg = newSvg(W, H);
    fig.appendChild(svg);
    const top = Math.max(...vals.filter(isNum), 1e-12);
    const sy = scale(0, niceDomain([0, top], false)[1], H - m.b, m.t, false);
    const sx = scale(0.5, n + 0.5, m.l, W - m.r, false);
    sx.ticks = () => [];
    axes(svg, sx, sy, m, W, H, { yLabel: "share", yFmt: fmtPct });
    const band = (W - m.l - m.r) / n, every = Math.ceil(n / 24);
    vals.forEach((v, i) => {
      const y = sy(isNum(v) ? v : 0), key = sp.key[i];
      const bar = s("rect", { class: "bar", x: m.l + band * i + band * 0.1, width: Math.max(1, band * 0.8), y,
        height: Math.max(0, H - m.b - y), fill: key ? C.accent : "#ced4da", "data-component": sp.names[i] }, svg);
      bar.addEventListener("pointermove", (ev) => showTip(ev, `${sp.names[i]}${key ? " (key)" : ""}`,
        [{ label: "share of logit variance", value: fmtPct(v) }]));
      bar.addEventListener("pointerleave", hideTip);
      if (i % every === 0 || (key && n <= 64)) {
        const x = m.l + band * (i + 0.5);
        s("text", { x, y: H - m.b + 12, "text-anchor": "end", transform: `rotate(-45 ${x} ${H - m.b + 12})`,
          style: key ? `fill:${C.accent};font-weight:600;font-size:9px` : "font-size:9px" }, svg, sp.names[i]);
      }
    });
  }

  function circuitWeightsFigure(fig) {
    const w = CIRCUIT.weights, keys = w.key || [];
    const what = { irreps: "irrep", multiplicative: "discrete-log frequency", additive: "frequency" }[CIRCUIT.basis] || "component";
    lineChart(fig, { title: `Token-weight norm per ${what}`, xLabel: "step", yLabel: "norm",
      series: w.names.map((name, j) => ({ name, x: w.step, y: w.norms.map((r) => r[j]),
        color: keys.includes(name) ? PALETTE[keys.indexOf(name) % PALETTE.length] : "#ced4da",
        width: keys.includes(name) ? 2 : 1 })) });
  }

  function circuitAblationFigure(fig) {
    const cu = CIRCUIT.curves, ab = CIRCUIT.ablation || {};
    lineChart(fig, { title: "Ablations on the held-out set", xLabel: "step", yLabel: "test accuracy",
      yDomain: [0, 1], yFmt: fmtPct, hlines: isNum(ab.chance) ? [{ y: ab.chance, label: "chance" }] : [],
      series: [{ name: "model", x: cu.step, y: cu.test_acc, color: C.test },
        { name: "keep only", x: cu.step, y: cu.keep_acc, color: C.clean },
        { name: "removed", x: cu.step, y: cu.remove_acc, color: C.auc }] });
  }

  function ablationLine() {
    const ab = CIRCUIT.ablation;
    if (!ab) return null;
    const names = (CIRCUIT.components || []).map((c) => c.name);
    const shown = names.slice(0, 12).join(", ") + (names.length > 12 ? ` +${names.length - 12}` : "");
    return metaLine([["basis", CIRCUIT.basis, true], ["key components", shown || "none"],
      ["explained", fmtPct(ab.explained)],
      ["keep only", `acc ${fmtPct(ab.keep.acc)}, loss ${fmt(ab.keep.loss)}`],
      ["removed", `acc ${fmtPct(ab.remove.acc)}, loss ${fmt(ab.remove.loss)}`],
      ["chance", fmtPct(ab.chance)], ["circuit", ab.circuit]]);
  }

  // ------------------------------------------------------------------ memorization atlas (groklab.analysis.memorization)

  const MEM = VIEW.memorization || {};

  function memHeatmapFigure(fig) {
    const hm = MEM.heatmap, side = hm.side, n = hm.step.length;
    const slider = document.getElementById("mem-slider"), out = document.getElementById("mem-step");
    function draw(j) {
      fig.replaceChildren();
      const flat = hm.mem[j], rows = [];
      for (let a = 0; a < side; a++) rows.push(flat.slice(a * side, (a + 1) * side));
      figHead(fig, `mem(i) of every (a, b) at step ${fmt(hm.step[j])}`, [{ name: "held out", color: "#e9ecef", box: true }]);
      heatmap(fig, {
        values: rows, domain: [0, 1], cmap: (t) => ramp(VIRIDIS, t), xLabel: "b", yLabel: "a", cLabel: "mem",
        tooltip: (a, b, v) => ({ head: `a = ${a}, b = ${b}`, rows: [{ label: "mem", value: isNum(v) ? fmt(v) : "held out" }] }),
      });
      if (out) out.textContent = `step ${fmt(hm.step[j])} (${j + 1} of ${n})`;
    }
    if (slider) {
      slider.max = String(n - 1);
      slider.value = String(n - 1);
      slider.addEventListener("input", () => draw(Number(slider.value)));
    }
    draw(n - 1);
  }

  function memDistributionFigure(fig) {
    const c = MEM.curves;
    lineChart(fig, { title: "Memorization scores over training", xLabel: "step", yLabel: "mem", markers: runMarkers(),
      series: [{ name: "median", x: c.step, y: c.mem_q50, color: C.norm },
        { name: "10 %", x: c.step, y: c.mem_q10, color: C.muted, dash: true, width: 1 },
        { name: "90 %", x: c.step, y: c.mem_q90, color: C.muted, dash: true, width: 1 },
        { name: "noisy labels", x: c.step, y: c.mem_corrupted, color: C.memorized },
        { name: "clean", x: c.step, y: c.mem_clean, color: C.clean },
        { name: "canaries", x: c.step, y: c.mem_canary, color: C.tpr }] });
  }

  function memTopFigure(fig) {
    const top = MEM.top.slice(0, 15);
    figHead(fig, `Most memorized of ${fmt(MEM.n_pool)} training examples (step ${fmt(MEM.step)})`, [
      { name: "noisy label", color: C.memorized, box: true }, { name: "canary", color: C.tpr, box: true },
      { name: "clean", color: C.clean, box: true }]);
    const W = figWidth(fig), row = 16, m = { l: 150, r: 16, t: 6, b: 34 }, H = m.t + row * top.length + m.b;
    const svg = newSvg(W, H);
    fig.appendChild(svg);
    const sx = scale(0, 1, m.l, W - m.r, false), sy = scale(0, 1, H - m.b, m.t, false);
    sy.ticks = () => [];
    axes(svg, sx, sy, m, W, H, { xLabel: "mem = P(correct | in) \u2212 P(correct | out)" });
    top.forEach((e, i) => {
      const y = m.t + row * i, color = e.canary ? C.tpr : e.corrupted ? C.memorized : C.clean;
      const name = `${e.x ? e.x.join(" \u2218 ") : `row ${e.row}`} \u2192 ${e.label} (true ${e.true_label})`;
      s("text", { x: m.l - 6, y: y + row / 2 + 3.5, "text-anchor": "end", style: "font-size:10px" }, svg, name);
      const bar = s("rect", { class: "bar", x: m.l, y: y + 2, height: row - 4, width: Math.max(1, sx(Math.max(0, e.mem)) - m.l),
        fill: color }, svg);
      bar.addEventListener("pointermove", (ev) => showTip(ev, name, [{ label: "mem", value: fmt(e.mem) },
        { label: "P(correct | in)", value: fmt(e.p_in) }, { label: "P(correct | out)", value: fmt(e.p_out) }]
        .concat(isNum(e.exposure) ? [{ label: "exposure (bits)", value: fmt(e.exposure) }] : [])));
      bar.addEventListener("pointerleave", hideTip);
    });
  }

  function memRocFigure(fig) {
    const series = [];
    MEM.roc.forEach((r, k) => {
      const color = PALETTE[k % PALETTE.length];
      if (r.lira) series.push({ name: `LiRA @ ${fmt(r.step)}`, x: r.lira.fpr, y: r.lira.tpr, color });
      series.push({ name: `loss @ ${fmt(r.step)}`, x: r.loss.fpr, y: r.loss.tpr, color, dash: true, width: 1.2 });
    });
    const diag = MEM.roc[0].loss.fpr;
    series.push({ name: "chance", x: diag, y: diag, color: "#ced4da", width: 1 });
    lineChart(fig, { title: "Membership inference ROC (log-log)", xLabel: "false-positive rate", xName: "FPR",
      yLabel: "true-positive rate", logY: true, series });
  }

  function memExposureFigure(fig) {
    const c = MEM.curves, top = (MEM.summary || {}).max_exposure;
    lineChart(fig, { title: "Canary exposure", xLabel: "step", yLabel: "exposure (bits)", markers: runMarkers(),
      hlines: isNum(top) ? [{ y: top, label: "log\u2082 C" }] : [],
      series: [{ name: "trained on", x: c.step, y: c.exposure_in, color: C.tpr },
        { name: "not trained on", x: c.step, y: c.exposure_out, color: C.muted, dash: true }] });
  }

  // ------------------------------------------------------------------ sweep figures

  function safeHref(href) {
    if (typeof href !== "string" || href === "") return null;
    try {
      const u = new URL(href, document.baseURI);
      return ["file:", "http:", "https:"].includes(u.protocol) ? href : null;
    } catch (_) {
      return null;
    }
  }

  /** The sweep grid: x_values as columns, y_values as rows (first at the bottom), runs as linked cells. */
  function sweepGrid(fig, o) {
    const xs = VIEW.x_values || [], ys = VIEW.y_values || [];
    const key = (v) => JSON.stringify(v);
    const xi = new Map(xs.map((v, i) => [key(v), i])), yi = new Map(ys.map((v, i) => [key(v), i]));
    const cells = new Map();
    for (const p of VIEW.points || []) {
      if (!xi.has(key(p.x)) || !yi.has(key(p.y))) continue;
      const c = `${xi.get(key(p.x))},${yi.get(key(p.y))}`;
      if (!cells.has(c)) cells.set(c, []);
      cells.get(c).push(p);
    }
    const W = figWidth(fig), m = { l: 70, r: 16, t: o.top || 8, b: 46 };
    const cw = (W - m.l - m.r) / Math.max(1, xs.length);
    const ch = Math.max(24, Math.min(48, cw * 0.62)), H = m.t + ch * ys.length + m.b;
    const svg = newSvg(W, H);
    fig.appendChild(svg);
    const xName = VIEW.x_name || "x", yName = VIEW.y_name || "y";
    xs.forEach((v, i) => s("text", { x: m.l + cw * (i + 0.5), y: m.t + ch * ys.length + 15, "text-anchor": "middle" }, svg, fmtValue(v)));
    ys.forEach((v, j) => s("text", { x: m.l - 8, y: m.t + ch * (ys.length - j - 0.5) + 3.5, "text-anchor": "end" }, svg, fmtValue(v)));
    s("text", { class: "axis-label", x: m.l + (W - m.l - m.r) / 2, y: H - 8, "text-anchor": "middle" }, svg, xName);
    s("text", { class: "axis-label", transform: `translate(14,${m.t + (ch * ys.length) / 2}) rotate(-90)`, "text-anchor": "middle" }, svg, yName);
    for (let i = 0; i < xs.length; i++) {
      for (let j = 0; j < ys.length; j++) {
        const x = m.l + cw * i, y = m.t + ch * (ys.length - j - 1), pts = cells.get(`${i},${j}`) || [];
        if (!pts.length) {
          s("rect", { x: x + 1.5, y: y + 1.5, width: cw - 3, height: ch - 3, rx: 3, fill: "#f8f9fa", stroke: "#e9ecef", "stroke-dasharray": "3 3" }, svg);
          continue;
        }
        const sw = cw / pts.length;
        pts.forEach((p, k) => {
          const href = safeHref(p.href);
          const parent = href ? s("a", { href, "aria-label": `run ${p.run_id}` }, svg) : s("g", {}, svg);
          const fill = o.color(p);
          s("rect", { class: "cell", x: x + sw * k + 1.5, y: y + 1.5, width: Math.max(1, sw - 3), height: ch - 3, rx: 3, fill: rgb(fill) }, parent);
          const label = o.label ? o.label(p) : null;
          if (label && sw >= 34) {
            s("text", { x: x + sw * (k + 0.5), y: y + ch / 2 + 3.5, "text-anchor": "middle", "pointer-events": "none",
              style: `fill:${luminance(fill) > 0.55 ? "#1d2330" : "#fff"};font-size:10.5px;font-weight:600` }, parent, label);
          }
          parent.addEventListener("pointermove", (ev) => showTip(ev, String(p.run_id ?? "run"), [
            { label: xName, value: fmtValue(p.x) }, { label: yName, value: fmtValue(p.y) },
            { color: rgb(o.color(p)), label: "phase", value: fmtValue(p.phase) },
            { label: "t_mem", value: fmtValue(p.t_mem) }, { label: "t_gen", value: fmtValue(p.t_gen) },
            { label: "delay", value: fmtValue(p.delay) }, { label: "test acc", value: fmtPct(p.test_acc) },
            ...(href ? [] : [{ label: "no report linked" }])]));
          parent.addEventListener("pointerleave", hideTip);
        });
      }
    }
    return { svg, m, W };
  }

  const hexRgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));

  function phaseFigure(fig) {
    const seen = [...new Set((VIEW.points || []).map((p) => String(p.phase)))];
    const names = Object.keys(PHASES).concat(seen.filter((p) => !knownPhase(p)));
    figHead(fig, "Phase of each run", names.map((p) => ({ name: p, color: phaseColor(p), box: true })));
    sweepGrid(fig, { color: (p) => hexRgb(phaseColor(p.phase)) });
  }

  function delayFigure(fig) {
    const delays = (VIEW.points || []).map((p) => p.delay).filter((d) => isNum(d) && d > 0);
    const lo = delays.length ? Math.min(...delays) : 1, hi = delays.length ? Math.max(...delays) : 10;
    const [a, b] = [Math.log10(lo), Math.log10(hi) > Math.log10(lo) ? Math.log10(hi) : Math.log10(lo) + 1];
    const cmap = (d) => ramp(VIRIDIS, (Math.log10(d) - a) / (b - a));
    figHead(fig, "t_gen \u2212 t_mem (steps)", [{ name: "no delay", color: "#dee2e6", box: true }]);
    const { svg, m, W } = sweepGrid(fig, {
      top: 44, color: (p) => (isNum(p.delay) && p.delay > 0 ? cmap(p.delay) : [222, 226, 230]),
      label: (p) => (isNum(p.delay) && p.delay > 0 ? fmtTick(+p.delay.toPrecision(2)) : "\u2013"),
    });
    // log colour bar across the top
    const gid = nextId("grad"), grad = s("linearGradient", { id: gid }, s("defs", {}, svg));
    for (let t = 0; t <= 1.0001; t += 0.1) s("stop", { offset: t.toFixed(2), "stop-color": rgb(ramp(VIRIDIS, t)) }, grad);
    const bw = Math.min(280, W - m.l - m.r), bx = W - m.r - bw;
    s("rect", { x: bx, y: 6, width: bw, height: 10, rx: 2, fill: `url(#${gid})` }, svg);
    const cs = scale(10 ** a, 10 ** b, bx, bx + bw, true);
    for (const t of cs.ticks()) s("text", { x: cs(t), y: 30, "text-anchor": "middle" }, svg, fmtTick(t));
    s("text", { x: bx - 8, y: 15, "text-anchor": "end" }, svg, "delay (log)");
  }

  // ------------------------------------------------------------------ headers

  function stat(parent, k, v, color) {
    const d = h("div", { class: "stat" });
    d.appendChild(h("div", { class: "k" }, k));
    const val = h("div", { class: "v" }, v);
    if (color) val.style.color = color;
    d.appendChild(val);
    parent.appendChild(d);
  }

  function kvTable(obj) {
    const t = h("table", { class: "kv" }), body = h("tbody");
    for (const k of Object.keys(obj)) {
      const tr = h("tr");
      tr.appendChild(h("td", { class: "mono" }, k));
      tr.appendChild(h("td", { class: "mono" }, fmtValue(obj[k])));
      body.appendChild(tr);
    }
    t.appendChild(body);
    return t;
  }

  function details(title, obj) {
    const d = h("details");
    d.appendChild(h("summary", {}, title));
    const wrap = h("div", { class: "kv-cols" });
    wrap.appendChild(kvTable(obj));
    d.appendChild(wrap);
    return d;
  }

  function metaLine(items) {
    const meta = h("div", { class: "meta" });
    for (const [k, v, mono] of items) {
      if (v === undefined || v === null || v === "") continue;
      const span = h("span", {}, `${k} `);
      span.appendChild(h("b", { class: mono ? "mono" : "" }, v));
      meta.appendChild(span);
    }
    return meta;
  }

  function runHeader(hd) {
    const run = VIEW.run || {}, fin = S.final || {};
    const title = run.name || run.run_id || "run";
    document.title = `${title} \u00b7 groklab`;
    hd.appendChild(h("div", { class: "eyebrow" }, "groklab \u00b7 run report"));
    const row = h("div", { class: "title-row" });
    row.appendChild(h("h1", { id: "run-title" }, title));
    const badge = phaseBadge(S.phase);
    if (badge) { badge.id = "phase-badge"; row.appendChild(badge); }
    if (run.status) row.appendChild(h("span", { class: "badge status" }, run.status));
    hd.appendChild(row);
    hd.appendChild(metaLine([["run", run.run_id, true], ["task", run.task, true], ["created", run.created],
      ["code", run.code_version, true], ["machine", run.machine], ["wall time", isNum(run.wall_s) ? fmtDuration(run.wall_s) : null]]));
    if (S.phase && VIEW.phase_reason) {
      hd.appendChild(h("p", { class: "meta phase-reason", id: "phase-reason" },
        `${S.phase}: ${VIEW.phase_reason}` + (S.phase_rule ? ` (phase rule: ${S.phase_rule})` : "")));
    }
    if (VIEW.verdict) hd.appendChild(h("p", { class: "verdict", id: "verdict" }, VIEW.verdict));
    const ablation = ablationLine();
    if (ablation) { ablation.id = "ablation"; hd.appendChild(ablation); }
    const stats = h("div", { class: "stats" });
    stat(stats, "train acc", fmtPct(fin.train_acc), C.train);
    stat(stats, "test acc", fmtPct(fin.test_acc), C.test);
    stat(stats, "train loss", fmt(fin.train_loss));
    stat(stats, "test loss", fmt(fin.test_loss));
    stat(stats, "t_mem", fmt(S.t_mem));
    stat(stats, "t_gen", fmt(S.t_gen));
    stat(stats, "delay", fmt(S.delay));
    if (S.pair_class || S.pair_rule) {
      stat(stats, "PAIR class", S.pair_class || "n/a");
      if (S.pair_rule) stats.lastChild.title = S.pair_rule;
    }
    hd.appendChild(stats);
    if (Array.isArray(VIEW.notes) && VIEW.notes.length) {
      const ul = h("ul", { class: "notes", id: "notes" });
      for (const n of VIEW.notes) ul.appendChild(h("li", {}, n));
      hd.appendChild(ul);
    }
    if (Array.isArray(VIEW.key_freqs) && VIEW.key_freqs.length) {
      hd.appendChild(metaLine([["key frequencies", VIEW.key_freqs.join(", ")]]));
    }
    const known = new Set(["t_mem", "t_gen", "delay", "phase", "pair_class", "final"]);
    const extra = Object.create(null);
    for (const k of Object.keys(S)) if (!known.has(k)) extra[k] = S[k];
    const cfg = run.config || {};
    if (Object.keys(cfg).length) hd.appendChild(details(`Configuration (${Object.keys(cfg).length} fields)`, cfg));
    if (Object.keys(extra).length) hd.appendChild(details(`Other summary values (${Object.keys(extra).length})`, extra));
  }

  function sweepHeader(hd) {
    const sw = VIEW.sweep || {}, pts = VIEW.points || [];
    const title = sw.name || sw.sweep_id || "sweep";
    document.title = `${title} \u00b7 groklab`;
    hd.appendChild(h("div", { class: "eyebrow" }, "groklab \u00b7 sweep report"));
    hd.appendChild(h("h1", { id: "sweep-title" }, title));
    const nDone = isNum(sw.n_done) ? sw.n_done : pts.length, nAll = isNum(sw.n_points) ? sw.n_points : pts.length;
    hd.appendChild(metaLine([["sweep", sw.sweep_id, true], ["created", sw.created],
      ["axes", `${VIEW.x_name || "x"} \u00d7 ${VIEW.y_name || "y"}`, true], ["runs done", `${nDone} of ${nAll}`]]));
    const pct = nAll ? Math.min(100, (100 * nDone) / nAll) : 0;
    const bar = h("div", { class: "progress", id: "sweep-progress", role: "progressbar", "aria-valuemin": "0",
      "aria-valuemax": String(nAll), "aria-valuenow": String(nDone) }), fill = h("div");
    fill.style.width = `${pct}%`;
    bar.appendChild(fill);
    hd.appendChild(bar);
    const counts = new Map();
    for (const p of pts) counts.set(String(p.phase), (counts.get(String(p.phase)) || 0) + 1);
    const stats = h("div", { class: "stats" });
    for (const ph of Object.keys(PHASES).concat([...counts.keys()].filter((p) => !Object.hasOwn(PHASES, p)))) {
      stat(stats, ph, String(counts.get(ph) || 0), phaseColor(ph));
    }
    const delays = pts.map((p) => p.delay).filter(isNum).sort((a, b) => a - b);
    if (delays.length) stat(stats, "median delay", fmt(delays[Math.floor(delays.length / 2)]));
    hd.appendChild(stats);
  }

  // ------------------------------------------------------------------ main

  const RENDER = {
    "progress-loss": (f) => progressChart(f, "Restricted and excluded loss", "loss (log)", [
      ["restricted_loss", "restricted", C.restricted], ["excluded_loss", "excluded", C.excluded],
      ["train_loss", "train", C.train, true], ["test_loss", "test", C.test, true]], { logY: true }),
    "progress-gini": (f) => progressChart(f, "Gini of Fourier norms", "Gini coefficient",
      [["gini_embed", "W_E", C.embed], ["gini_unembed", "W_U\u00b7W_out", C.unembed]], { yDomain: [0, 1] }),
    "progress-norm": (f) => progressChart(f, "Weight norm", "\u2016w\u2016\u00b2", [["weight_norm", "sum of squared weights", C.norm]]),
    spectrum: spectrumFigure,
    clock: clockFigure,
    neurons: neuronsFigure,
    stars: starsFigure,
    parity: parityFigure,
    "circuit-spectrum": circuitSpectrumFigure,
    "circuit-weights": circuitWeightsFigure,
    "circuit-ablation": circuitAblationFigure,
    "mem-heatmap": memHeatmapFigure,
    "mem-distribution": memDistributionFigure,
    "mem-top": memTopFigure,
    "mem-roc": memRocFigure,
    "mem-exposure": memExposureFigure,
    "phase-diagram": phaseFigure,
    delay: delayFigure,
  };

  // Figures of per-step metrics are declared in groklab's metric registry and arrive as DATA.panels.
  function panelChart(spec) {
    const extra = { logY: !!spec.log_y };
    if (spec.y_range) extra.yDomain = spec.y_range;
    if (spec.percent) extra.yFmt = fmtPct;
    if (spec.hline) extra.hlines = [{ y: spec.hline[0], label: spec.hline[1] }];
    if (spec.badge === "phase") extra.badge = phaseBadge(S.phase);
    return (f) => metricChart(f, spec.title, spec.ylabel, spec.series, extra);
  }
  for (const [name, spec] of Object.entries(DATA.panels || {})) RENDER[name] = panelChart(spec);

  const header = document.querySelector('[data-section="header"]');
  if (header) (DATA.kind === "sweep" ? sweepHeader : runHeader)(header);
  for (const fig of document.querySelectorAll("[data-figure]")) {
    const name = fig.dataset.figure;
    try {
      RENDER[name](fig);
      report.figures.push(name);
    } catch (err) {
      fig.replaceChildren(h("p", { class: "fig-error" }, `This figure could not be drawn: ${err && err.message}`));
      console.error(`groklab report: figure ${name}:`, err);
    }
  }
})();
