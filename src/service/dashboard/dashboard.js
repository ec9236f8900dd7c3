// qeil dashboard: renders the service's server-sent events (GET v1/events).
// Plain browser JavaScript, no build step, no libraries: the page must work on an offline appliance.
// Every state is told in words and shapes as well as colour.
"use strict";

(() => {
  /** Points kept per unit and chart (the service sends about one a second). */
  const MAX_POINTS = 300;
  /** A stream that has said nothing for this many telemetry periods is called stale. */
  const STALE_PERIODS = 4;
  /** Backoff of our own reconnects, after the browser gave up on the stream (an HTTP error), ms. */
  const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000];

  const HEALTH = {
    healthy: { icon: "✓", text: "HEALTHY" },
    probation: { icon: "◐", text: "PROBATION" },
    failed: { icon: "✕", text: "FAILED" },
  };
  // `min`/`max` pin an end of a chart's scale; `minSpan` is the least height of an autoscaled one, so that
  // sensor noise on an idle unit (a tenth of a degree, a few milliwatts) draws flat instead of like activity.
  // Power charts span at least 0..unit.powerScaleW (from the board's priors, at least 1 W).
  const CHANNELS = [
    { key: "tempC", title: "Temperature", color: "#b3541e", format: (v) => v.toFixed(1) + " °C", minSpan: 5 },
    { key: "powerW", title: "Power", color: "#6a3d9a", format: (v) => v.toFixed(2) + " W", min: 0 },
    { key: "freqHz", title: "Frequency", color: "#1f5f9c", format: (v) => freqText(v), min: 0 },
    {
      key: "utilization",
      title: "Utilisation",
      color: "#2f7d32",
      format: (v) => Math.round(v * 100) + " %",
      min: 0,
      max: 1,
    },
  ];
  /** Viridis, sampled: readable by most colour-blind viewers and in greyscale (dark to light). */
  const RAMP = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];

  const state = {
    snapshot: null,
    bootId: null,
    /** unitId -> points, oldest first. */
    series: new Map(),
    updates: 0,
    lastEventAtMs: 0,
    source: null,
    attempts: 0,
    retryTimer: 0,
    conn: "connecting",
    drawQueued: false,
  };

  // ---- small helpers -----------------------------------------------------------------------

  function h(tag, props, children) {
    const el = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v === undefined || v === null) continue;
        if (k === "text") el.textContent = v;
        else if (k === "class") el.className = v;
        else if (k.startsWith("data-") || k.startsWith("aria-") || k === "role" || k === "scope" || k === "title") {
          el.setAttribute(k, String(v));
        } else el[k] = v;
      }
    }
    for (const c of children || []) el.append(c);
    return el;
  }

  function $(id) {
    return document.getElementById(id);
  }

  function freqText(hz) {
    return hz >= 1e9 ? (hz / 1e9).toFixed(2) + " GHz" : Math.round(hz / 1e6) + " MHz";
  }

  function num(v, digits) {
    return v === null || v === undefined || !Number.isFinite(v) ? "—" : v.toFixed(digits);
  }

  function clockText(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  function layersText(start, end) {
    return end - start === 1 ? "layer " + start : "layers " + start + "–" + (end - 1);
  }

  function unitAt(unitId, freqHz) {
    return unitId + (freqHz === null ? "" : " at " + freqText(freqHz));
  }

  function percentChange(value, base) {
    if (!(base > 0)) return "—";
    const change = (1 - value / base) * 100;
    return change >= 0 ? change.toFixed(1) + "% less" : (-change).toFixed(1) + "% more";
  }

  function rampColor(t) {
    const x = Math.min(1, Math.max(0, t)) * (RAMP.length - 1);
    const i = Math.min(RAMP.length - 2, Math.floor(x));
    const f = x - i;
    const a = RAMP[i];
    const b = RAMP[i + 1];
    const mix = (k) => Math.round(parseInt(a.substr(k, 2), 16) * (1 - f) + parseInt(b.substr(k, 2), 16) * f);
    return "rgb(" + mix(1) + "," + mix(3) + "," + mix(5) + ")";
  }

  /** About `count` round tick values covering [lo, hi]. */
  function ticks(lo, hi, count) {
    const span = hi - lo;
    if (!(span > 0)) return [lo];
    const raw = span / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    // The round step nearest to the ideal one (on a log scale).
    let step = mag;
    for (const m of [2, 5, 10]) if (Math.abs(Math.log(m * mag / raw)) < Math.abs(Math.log(step / raw))) step = m * mag;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
    return out;
  }

  function tickText(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(1) + "G";
    if (a >= 1e6) return (v / 1e6).toFixed(0) + "M";
    if (a >= 1e4) return (v / 1e3).toFixed(0) + "k";
    if (a >= 100 || v === 0) return v.toFixed(0);
    if (a >= 1) return v.toFixed(1);
    return v.toPrecision(2);
  }

  /** Sizes the canvas backing store to its CSS box and returns a context in CSS pixels. */
  function prepare(canvas) {
    const rect = canvas.getBoundingClientRect();
    const ratio = globalThis.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(rect.width));
    const ht = Math.max(1, Math.round(rect.height));
    if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(ht * ratio)) {
      canvas.width = Math.round(w * ratio);
      canvas.height = Math.round(ht * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, ht);
    ctx.font = "11px system-ui, sans-serif";
    return { ctx, w, h: ht };
  }

  // ---- connection ------------------------------------------------------------------------

  function setConn(conn, text, icon) {
    state.conn = conn;
    const el = $("conn");
    el.dataset.state = conn;
    el.querySelector(".conn-text").textContent = text;
    el.querySelector(".conn-icon").textContent = icon;
  }

  function connect() {
    clearTimeout(state.retryTimer);
    setConn(
      state.attempts === 0 ? "connecting" : "reconnecting",
      state.attempts === 0 ? "Connecting" : "Reconnecting (attempt " + state.attempts + ")",
      state.attempts === 0 ? "…" : "↻",
    );
    const source = new EventSource("v1/events");
    state.source = source;
    source.addEventListener("open", () => {
      state.attempts = 0;
    });
    source.addEventListener("snapshot", (e) => receive(e, true));
    source.addEventListener("update", (e) => receive(e, false));
    source.addEventListener("error", () => {
      if (state.source !== source) return;
      state.attempts++;
      if (source.readyState === EventSource.CLOSED) {
        // The browser gives up after an HTTP error (503 while the service stops): retry ourselves, backing off.
        const delayMs = BACKOFF_MS[Math.min(state.attempts, BACKOFF_MS.length) - 1];
        setConn("offline", "Offline: retrying in " + Math.round(delayMs / 1000) + " s", "✕");
        state.retryTimer = setTimeout(connect, delayMs);
      } else {
        // The browser reconnects by itself after the delay the service asked for.
        setConn("reconnecting", "Reconnecting (attempt " + state.attempts + ")", "↻");
      }
    });
  }

  function receive(event, full) {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch (error) {
      console.warn("dashboard: ignored an event that is not JSON", error);
      return;
    }
    state.updates++;
    state.lastEventAtMs = Date.now();
    document.body.dataset.updates = String(state.updates);
    setConn("live", "Live", "●");
    apply(data, full);
  }

  function watchStaleness() {
    setInterval(() => {
      const snap = state.snapshot;
      if (state.conn !== "live" && state.conn !== "stale") return;
      if (!snap) return;
      const quietMs = Date.now() - state.lastEventAtMs;
      if (quietMs > STALE_PERIODS * snap.periodMs + 2000) {
        setConn("stale", "Stale: no update for " + Math.round(quietMs / 1000) + " s", "◌");
      }
    }, 1000);
  }

  // ---- state -----------------------------------------------------------------------------

  function apply(snap, full) {
    if (full || snap.bootId !== state.bootId) {
      state.series = new Map();
      document.body.dataset.bootId = snap.bootId;
    }
    state.bootId = snap.bootId;
    for (const u of snap.units) {
      const list = state.series.get(u.id) || [];
      const last = list.length ? list[list.length - 1].timestampMs : -Infinity;
      for (const p of u.history) if (p.timestampMs > last) list.push(p);
      if (list.length > MAX_POINTS) list.splice(0, list.length - MAX_POINTS);
      state.series.set(u.id, list);
    }
    state.snapshot = snap;
    render();
  }

  function render() {
    const snap = state.snapshot;
    $("board").textContent = snap.board.name + (snap.board.model ? " (" + snap.board.model + ")" : "") +
      " · node " + snap.nodeId;
    renderTotals(snap);
    renderUnits(snap);
    renderPlan(snap.plan);
    renderJobs(snap.jobs);
    renderFaults(snap.faults);
    renderCalibration(snap.calibration);
  }

  function stat(label, value, note) {
    return h("div", null, [
      h("dt", { text: label }),
      h("dd", null, note ? [value + " ", h("small", { text: note })] : [value]),
    ]);
  }

  function renderTotals(snap) {
    const t = snap.totals;
    const saved = t.standardEnergyJ > 0 ? percentChange(t.standardEnergyJ - t.energySavedJ, t.standardEnergyJ) : "";
    const budget = t.samplesUsed + t.samplesSaved;
    $("totals").replaceChildren(
      stat("Jobs", String(t.jobs), t.failedJobs > 0 ? t.failedJobs + " failed" : ""),
      stat("Energy used", num(t.energyJ, 1) + " J"),
      stat("Energy saved vs standard", num(t.energySavedJ, 1) + " J", saved ? "(" + saved + ")" : ""),
      stat("Samples saved by the cascade", String(t.samplesSaved), budget > 0 ? "of " + budget : ""),
    );
  }

  // ---- units -----------------------------------------------------------------------------

  function unitCard(unit) {
    const charts = CHANNELS.map((ch) =>
      h("figure", { class: "chart", "data-channel": ch.key }, [
        h("figcaption", null, [h("span", { text: ch.title }), h("span", { class: "value", text: "—" })]),
        h("canvas", { role: "img", "aria-label": ch.title + " of " + unit.id, "data-points": "0", "data-draws": "0" }),
      ])
    );
    return h("article", { class: "unit", "data-unit": unit.id }, [
      h("div", { class: "unit-head" }, [
        h("h3", null, [
          unit.id + " ",
          h("span", { class: "label", text: unit.kind.toUpperCase() + " · " + unit.label }),
        ]),
        h("span", { class: "badge", role: "status" }, [
          h("span", { class: "badge-icon", "aria-hidden": "true" }),
          h("span", { class: "badge-text" }),
        ]),
      ]),
      h("p", { class: "reason" }),
      h("div", { class: "charts" }, charts),
    ]);
  }

  function renderUnits(snap) {
    const box = $("units");
    const seen = new Set();
    for (const unit of snap.units) {
      seen.add(unit.id);
      let card = box.querySelector('[data-unit="' + CSS.escape(unit.id) + '"]');
      if (!card) {
        card = unitCard(unit);
        box.append(card);
      }
      const health = HEALTH[unit.health.state] || { icon: "?", text: String(unit.health.state).toUpperCase() };
      card.dataset.health = unit.health.state;
      const badge = card.querySelector(".badge");
      badge.dataset.health = unit.health.state;
      badge.querySelector(".badge-icon").textContent = health.icon;
      badge.querySelector(".badge-text").textContent = health.text;
      const since = "since " + clockText(unit.health.sinceMs);
      card.querySelector(".reason").textContent = unit.health.reason ? unit.health.reason + " (" + since + ")" : since;
      const points = state.series.get(unit.id) || [];
      const last = points[points.length - 1];
      for (const ch of CHANNELS) {
        const fig = card.querySelector('[data-channel="' + ch.key + '"]');
        const v = last ? last[ch.key] : null;
        const why = unit.unreadable[ch.key];
        fig.querySelector(".value").textContent = v === null || v === undefined
          ? (why ? "unreadable" : "—")
          : ch.format(v);
        fig.querySelector(".value").title = why || "";
        drawSeries(fig.querySelector("canvas"), points, ch, unit, snap.periodMs);
      }
    }
    for (const card of [...box.children]) if (!seen.has(card.dataset.unit)) card.remove();
  }

  function drawSeries(canvas, points, ch, unit, periodMs) {
    const { ctx, w, h: ht } = prepare(canvas);
    const t1 = points.length ? points[points.length - 1].timestampMs : 0;
    // The time axis grows with the data up to MAX_POINTS periods, then scrolls.
    const spanMs = points.length ? t1 - points[0].timestampMs : 0;
    const windowMs = Math.min(MAX_POINTS * periodMs, Math.max(20 * periodMs, spanMs));
    const t0 = t1 - windowMs;
    const shown = points.filter((p) => p.timestampMs >= t0);
    const values = shown.map((p) => p[ch.key]).filter((v) => v !== null && v !== undefined);
    let lo = ch.min !== undefined ? ch.min : Math.min(...values);
    let hi = ch.max !== undefined ? ch.max : Math.max(...values);
    if (ch.key === "freqHz" && unit.maxFreqHz) hi = Math.max(hi, unit.maxFreqHz);
    let trips = [];
    if (ch.key === "tempC" && values.length) {
      // Every throttling trip; the critical one only within reach of the data, so the line keeps its shape.
      trips = unit.trips.filter((t) => t.type !== "critical" || t.tempC <= Math.max(...values) + 30);
      for (const t of trips) hi = Math.max(hi, t.tempC + 2);
      lo = Math.min(lo, ...trips.map((t) => t.tempC - 10));
    }
    if (ch.key === "powerW") hi = Math.max(hi, unit.powerScaleW || 1);
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
      lo = 0;
      hi = 1;
    }
    if (ch.minSpan && hi - lo < ch.minSpan) {
      // Widen around the data, or up from a pinned bottom.
      const mid = (lo + hi) / 2;
      lo = ch.min !== undefined ? lo : mid - ch.minSpan / 2;
      hi = lo + ch.minSpan;
    }
    if (hi - lo < 1e-9) {
      hi = lo + (Math.abs(lo) || 1) * 0.1;
      lo = lo - (Math.abs(lo) || 1) * 0.1;
    }
    const left = 34;
    const right = 4;
    const top = 4;
    const bottom = 4;
    const x = (t) => left + (w - left - right) * (1 - (t1 - t) / windowMs);
    const y = (v) => top + (ht - top - bottom) * (1 - (v - lo) / (hi - lo));

    ctx.strokeStyle = "#e3e6eb";
    ctx.fillStyle = "#5a6070";
    ctx.lineWidth = 1;
    ctx.textBaseline = "middle";
    for (const v of ticks(lo, hi, 3)) {
      ctx.beginPath();
      ctx.moveTo(left, y(v));
      ctx.lineTo(w - right, y(v));
      ctx.stroke();
      const label = ch.key === "utilization" ? Math.round(v * 100) + "%" : tickText(v);
      ctx.fillText(label, 2, Math.min(ht - 6, Math.max(6, y(v))));
    }
    // Trip lines: dashed, each with its type written on it; labels of close lines sit side by side.
    ctx.textBaseline = "middle";
    let prev = null;
    for (const t of [...trips].sort((a, b) => b.tempC - a.tempC)) {
      const ty = y(t.tempC);
      ctx.strokeStyle = t.type === "critical" ? "#a4161a" : "#c2571a";
      ctx.setLineDash(t.type === "critical" ? [2, 2] : [6, 3]);
      ctx.beginPath();
      ctx.moveTo(left, ty);
      ctx.lineTo(w - right, ty);
      ctx.stroke();
      ctx.setLineDash([]);
      const label = t.type + " " + Math.round(t.tempC) + "°";
      const tw = ctx.measureText(label).width;
      let lx = w - right - tw - 3;
      if (prev && Math.abs(prev.y - ty) < 11) lx = prev.x - tw - 8;
      const ly = Math.min(ht - 6, Math.max(6, ty));
      ctx.fillStyle = "rgba(250,251,252,0.9)";
      ctx.fillRect(lx - 2, ly - 6, tw + 4, 12);
      ctx.fillStyle = ctx.strokeStyle;
      ctx.fillText(label, lx, ly);
      prev = { x: lx, y: ty };
    }
    // The series, with a gap wherever a reading failed.
    ctx.strokeStyle = ch.color;
    ctx.lineWidth = 1.75;
    ctx.beginPath();
    let pen = false;
    for (const p of shown) {
      const v = p[ch.key];
      if (v === null || v === undefined) {
        pen = false;
        continue;
      }
      if (pen) ctx.lineTo(x(p.timestampMs), y(v));
      else ctx.moveTo(x(p.timestampMs), y(v));
      pen = true;
    }
    ctx.stroke();
    const last = shown[shown.length - 1];
    if (last && last[ch.key] !== null && last[ch.key] !== undefined) {
      ctx.fillStyle = ch.color;
      ctx.beginPath();
      ctx.arc(x(last.timestampMs), y(last[ch.key]), 2.5, 0, Math.PI * 2);
      ctx.fill();
    }
    const current = last && last[ch.key] !== null && last[ch.key] !== undefined
      ? ch.format(last[ch.key])
      : "unreadable";
    const tripText = unit.trips.length
      ? "; trips " + unit.trips.map((t) => t.type + " " + t.tempC + " °C (" + t.zone + ")").join(", ")
      : "";
    canvas.setAttribute("aria-label", ch.title + " of " + unit.id + ": " + current + tripText);
    canvas.dataset.points = String(shown.length);
    canvas.dataset.scaleLo = String(lo);
    canvas.dataset.scaleHi = String(hi);
    canvas.dataset.draws = String(Number(canvas.dataset.draws || "0") + 1);
  }

  // ---- plan ------------------------------------------------------------------------------

  function placementWords(pl, layers) {
    const out = [
      "Prefill (the whole prompt, all " + layers + " layers): " + unitAt(pl.prefillUnit, pl.prefillFreqHz) + ".",
    ];
    pl.lanes.forEach((lane, i) => {
      const parts = lane.segments.map((s) =>
        layersText(s.layerStart, s.layerEnd) + " on " + unitAt(s.unitId, s.freqHz)
      );
      out.push(
        "Decode lane " + (i + 1) + " (" + lane.samples + (lane.samples === 1 ? " sample" : " samples") + "): " +
          parts.join(", then ") + ".",
      );
    });
    return out;
  }

  function renderPlan(plan) {
    $("plan-empty").hidden = plan !== null;
    $("plan").hidden = plan === null;
    if (plan === null) return;
    $("placement-words").replaceChildren(
      ...placementWords(plan.chosen.placement, plan.job.layers).map((t) => h("li", { text: t })),
    );
    const c = plan.chosen;
    const versus = (name, b) =>
      name + " " + num(b.energyJ, 2) + " J, " + num(b.latencyMs, 0) + " ms" + (b.feasible ? "" : " (infeasible)") +
      ": chosen uses " + percentChange(c.energyJ, b.energyJ) + " energy, " + percentChange(c.latencyMs, b.latencyMs) +
      " time.";
    $("plan-compare").textContent = "Predicted for " + plan.job.promptTokens + " prompt tokens, " + plan.job.genTokens +
      " new tokens, " + plan.job.samples + " samples (policy " + plan.policy + "): " + num(c.energyJ, 2) + " J, " +
      num(c.latencyMs, 0) + " ms, underutilisation " + num(c.underutilization, 2) + ". " +
      versus("Standard", plan.standard) +
      " " + versus("Greedy", plan.greedy);
    const rows = plan.front.map((p, i) => {
      const mark = p.key === c.key
        ? "chosen"
        : p.key === plan.standard.key
        ? "standard"
        : p.key === plan.greedy.key
        ? "greedy"
        : "";
      return h("tr", { "data-key": p.key }, [
        h("td", { text: String(i + 1) }),
        h("td", { class: "num", text: num(p.energyJ, 3) }),
        h("td", { class: "num", text: num(p.latencyMs, 1) }),
        h("td", { class: "num", text: num(p.underutilization, 3) }),
        h("td", { text: mark }),
      ]);
    });
    for (const [name, b] of [["standard", plan.standard], ["greedy", plan.greedy]]) {
      if (!plan.front.some((p) => p.key === b.key)) {
        rows.push(h("tr", { "data-key": b.key }, [
          h("td", { text: "–" }),
          h("td", { class: "num", text: num(b.energyJ, 3) }),
          h("td", { class: "num", text: num(b.latencyMs, 1) }),
          h("td", { class: "num", text: num(b.underutilization, 3) }),
          h("td", { text: name + (b.feasible ? "" : " (infeasible)") }),
        ]));
      }
    }
    $("front-table").tBodies[0].replaceChildren(...rows);
    drawPareto($("pareto"), plan);
  }

  function marker(ctx, shape, px, py, r) {
    ctx.beginPath();
    if (shape === "square") ctx.rect(px - r, py - r, 2 * r, 2 * r);
    else if (shape === "triangle") {
      ctx.moveTo(px, py - r * 1.2);
      ctx.lineTo(px + r * 1.1, py + r * 0.8);
      ctx.lineTo(px - r * 1.1, py + r * 0.8);
      ctx.closePath();
    } else ctx.arc(px, py, r, 0, Math.PI * 2);
  }

  function drawPareto(canvas, plan) {
    const { ctx, w, h: ht } = prepare(canvas);
    const all = [...plan.front, plan.chosen, plan.standard, plan.greedy].filter((p) =>
      Number.isFinite(p.energyJ) && Number.isFinite(p.latencyMs)
    );
    const xs = all.map((p) => p.energyJ);
    const ys = all.map((p) => p.latencyMs);
    const pad = (lo, hi) => {
      const span = hi - lo || Math.abs(hi) || 1;
      return [Math.max(0, lo - span * 0.08), hi + span * 0.08];
    };
    const [x0, x1] = pad(Math.min(...xs), Math.max(...xs));
    const [y0, y1] = pad(Math.min(...ys), Math.max(...ys));
    const left = 58;
    const right = 14;
    const top = 14;
    const bottom = 40;
    const X = (v) => left + (w - left - right) * (v - x0) / (x1 - x0);
    const Y = (v) => top + (ht - top - bottom) * (1 - (v - y0) / (y1 - y0));

    ctx.strokeStyle = "#e3e6eb";
    ctx.fillStyle = "#5a6070";
    ctx.lineWidth = 1;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const v of ticks(x0, x1, Math.max(2, Math.floor(w / 90)))) {
      ctx.beginPath();
      ctx.moveTo(X(v), top);
      ctx.lineTo(X(v), ht - bottom);
      ctx.stroke();
      ctx.fillText(tickText(v), X(v), ht - bottom + 4);
    }
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const v of ticks(y0, y1, 5)) {
      ctx.beginPath();
      ctx.moveTo(left, Y(v));
      ctx.lineTo(w - right, Y(v));
      ctx.stroke();
      ctx.fillText(tickText(v), left - 4, Y(v));
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText("energy, J (predicted)", left + (w - left - right) / 2, ht - 2);
    ctx.save();
    ctx.translate(12, top + (ht - top - bottom) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText("latency, ms", 0, 0);
    ctx.restore();

    const us = plan.front.map((p) => p.underutilization);
    const uLo = Math.min(...us);
    const uHi = Math.max(...us);
    const norm = (u) => (uHi - uLo > 1e-12 ? (u - uLo) / (uHi - uLo) : 0.5);
    // Front: colour and size both grow with underutilisation (large light markers: idle hardware).
    for (const p of plan.front) {
      const t = norm(p.underutilization);
      ctx.fillStyle = rampColor(t);
      ctx.strokeStyle = "#16181d";
      ctx.lineWidth = 0.75;
      marker(ctx, "circle", X(p.energyJ), Y(p.latencyMs), 3.5 + 6 * t);
      ctx.fill();
      ctx.stroke();
    }
    const labels = [];
    const label = (text, px, py) => {
      ctx.font = "600 12px system-ui, sans-serif";
      const tw = ctx.measureText(text).width;
      let lx = px + 12;
      if (lx + tw > w - right) lx = px - 12 - tw;
      let ly = py - 10;
      // Step down past labels already drawn nearby.
      while (labels.some((b) => Math.abs(b.y - ly) < 13 && lx < b.x + b.w && b.x < lx + tw)) ly += 13;
      labels.push({ x: lx, y: ly, w: tw });
      ctx.fillStyle = "rgba(255,255,255,0.85)";
      ctx.fillRect(lx - 2, ly - 7, tw + 4, 14);
      ctx.fillStyle = "#16181d";
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      ctx.fillText(text, lx, ly);
    };
    for (const [name, b, shape] of [["standard", plan.standard, "square"], ["greedy", plan.greedy, "triangle"]]) {
      if (!Number.isFinite(b.energyJ) || !Number.isFinite(b.latencyMs)) continue;
      ctx.fillStyle = "#ffffff";
      ctx.strokeStyle = "#16181d";
      ctx.lineWidth = 2;
      marker(ctx, shape, X(b.energyJ), Y(b.latencyMs), 6);
      ctx.fill();
      ctx.stroke();
      label(name + (b.feasible ? "" : " (infeasible)"), X(b.energyJ), Y(b.latencyMs));
    }
    const c = plan.chosen;
    ctx.strokeStyle = "#16181d";
    ctx.lineWidth = 2.5;
    marker(ctx, "circle", X(c.energyJ), Y(c.latencyMs), 13);
    ctx.stroke();
    label("chosen", X(c.energyJ), Y(c.latencyMs));

    $("pareto-caption").textContent = plan.front.length + " placements on the front, from " + plan.evaluations +
      " evaluated; underutilisation " + num(uLo, 2) + " (small, dark) to " + num(uHi, 2) + " (large, light).";
    canvas.setAttribute(
      "aria-label",
      "Pareto front of " + plan.front.length + " placements, energy against latency. Chosen: " + num(c.energyJ, 2) +
        " J, " + num(c.latencyMs, 0) + " ms. Standard: " + num(plan.standard.energyJ, 2) + " J, " +
        num(plan.standard.latencyMs, 0) + " ms. Greedy: " + num(plan.greedy.energyJ, 2) + " J, " +
        num(plan.greedy.latencyMs, 0) + " ms.",
    );
    canvas.dataset.points = String(plan.front.length);
    canvas.dataset.draws = String(Number(canvas.dataset.draws || "0") + 1);
  }

  // ---- jobs, faults, calibration -----------------------------------------------------------

  function renderJobs(jobs) {
    $("jobs-empty").hidden = jobs.length > 0;
    $("jobs").tBodies[0].replaceChildren(...jobs.map((j) =>
      h("tr", { "data-job-id": j.id, "data-ok": String(j.ok) }, [
        h("td", { text: j.id }),
        h("td", { text: j.task }),
        h("td", {
          class: "answer",
          text: j.ok ? (j.answer === null ? "(no answer)" : j.answer) : "failed: " + (j.error ? j.error.code : "?"),
          title: j.error ? j.error.message : "",
        }),
        h("td", { class: "num", text: j.samplesUsed + " of " + j.samplesMax }),
        h("td", { text: j.stopReason || "—" }),
        h("td", { class: "num", text: num(j.energyJ, 2) }),
        h("td", { class: "num", text: num(j.latencyMs, 0) }),
      ])
    ));
  }

  function renderFaults(faults) {
    $("faults-empty").hidden = faults.length > 0;
    $("faults").replaceChildren(...faults.map((f) =>
      h("li", { "data-kind": f.kind, "data-unit": f.unitId }, [
        h("time", { text: clockText(f.timestampMs), dateTime: new Date(f.timestampMs).toISOString() }),
        h("span", { class: "sev", "data-severity": f.severity, text: f.severity.toUpperCase() }),
        h("strong", { text: f.kind }),
        f.unitId ? " on " + f.unitId : "",
        ": " + f.message,
      ])
    ));
  }

  function renderCalibration(cal) {
    if (cal === null) {
      $("calibration").replaceChildren(stat("Prediction error", "—", "no measured jobs yet"));
      return;
    }
    const pct = (v) => (v === undefined ? "—" : v.toFixed(1) + " %");
    $("calibration").replaceChildren(
      stat("Energy MAPE", pct(cal.energyMapePct), "over " + cal.energyCount + " jobs"),
      stat("Latency MAPE", pct(cal.latencyMapePct), "over " + cal.latencyCount + " jobs"),
      stat(
        "Temperature error (MAE)",
        cal.tempMaeC === undefined ? "—" : cal.tempMaeC.toFixed(1) + " °C",
        "over " + cal.tempCount + " zone readings",
      ),
    );
  }

  // ---- start -------------------------------------------------------------------------------

  function redrawSoon() {
    if (state.drawQueued || !state.snapshot) return;
    state.drawQueued = true;
    requestAnimationFrame(() => {
      state.drawQueued = false;
      render();
    });
  }

  globalThis.addEventListener("resize", redrawSoon);
  renderCalibration(null);
  watchStaleness();
  connect();
})();
