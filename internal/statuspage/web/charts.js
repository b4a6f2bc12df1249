// The status page's charts, drawn by uPlot from /status/history.json: per
// chain, traffic share by cloud and by operator, latency and errors over
// the history the gateway keeps (an hour by default).
"use strict";
window.statusCharts = (function () {
  const { el } = window.statusDOM;
  const palette = ["#2e90fa", "#12b76a", "#f79009", "#9e77ed", "#f04438", "#06aed4",
    "#ee46bc", "#667085", "#84cc16", "#b54708", "#1d2939", "#fdb022"];
  // charts by chain name, then by chart key: {plot, keys}.
  const charts = new Map();

  // The four charts of a chain: which columns, how values are scaled.
  const specs = [
    { key: "cloud", title: "Traffic share by cloud (%)", col: "cloudShare", scale: 100 },
    { key: "operator", title: "Traffic share by operator (%)", col: "operatorShare", scale: 100 },
    { key: "latency", title: "Latency p50 by provider (ms)", col: "p50Ms", scale: 1 },
    { key: "errors", title: "Errors: provider error rate (%), failed answers (right)", col: "errorRate", scale: 100, failed: true },
  ];

  function color(i) { return palette[i % palette.length]; }

  // columns is a chart's uPlot data and series names from a chain's history.
  function columns(h, spec) {
    const m = h[spec.col] || {};
    const keys = Object.keys(m).sort();
    const data = [h.t || []];
    for (const k of keys) {
      data.push(m[k].map((v) => (v === null ? null : v * spec.scale)));
    }
    if (spec.failed) {
      keys.push("failed answers");
      data.push(h.failed || []);
    }
    return { keys, data };
  }

  function options(spec, keys, width) {
    const series = [{}];
    keys.forEach((k, i) => {
      const failed = spec.failed && i === keys.length - 1;
      series.push({
        label: k, stroke: failed ? "#d92d20" : color(i), width: failed ? 2 : 1.5,
        scale: failed ? "n" : "y", dash: failed ? [6, 3] : undefined,
        value: (u, v) => (v === null || v === undefined ? "–" : (+v).toFixed(failed ? 0 : 1)),
      });
    });
    const axes = [{}, { scale: "y", size: 44 }];
    const scales = { x: { time: true }, y: { range: (u, lo, hi) => [0, Math.max(hi, spec.scale === 100 ? 100 : 1)] } };
    if (spec.failed) {
      axes.push({ scale: "n", side: 1, size: 56, grid: { show: false } });
      scales.n = { range: (u, lo, hi) => [0, Math.max(hi, 1)] };
    }
    return { title: spec.title, width, height: 200, series, axes, scales, legend: { live: false } };
  }

  // update draws (or redraws) every chain's charts from a history.
  function update(history) {
    for (const h of history.chains || []) {
      const box = document.querySelector(`[data-chain="${CSS.escape(h.name)}"] .charts`);
      if (!box) continue;
      let byKey = charts.get(h.name);
      if (!byKey) { byKey = new Map(); charts.set(h.name, byKey); }
      // All four slots first: the grid sizes them before a chart measures.
      if (!box.children.length) {
        box.append(...specs.map((spec) => el("div", { class: "chart", "data-chart": spec.key })));
      }
      for (const spec of specs) {
        const slot = box.querySelector(`[data-chart="${spec.key}"]`);
        const { keys, data } = columns(h, spec);
        slot.dataset.points = String(data[0].length);
        const have = byKey.get(spec.key);
        if (have && have.keys.join("\n") === keys.join("\n") && have.plot.root.isConnected) {
          have.plot.setData(data);
          continue;
        }
        if (have) have.plot.destroy();
        slot.replaceChildren();
        byKey.set(spec.key, { keys, slot, plot: new uPlot(options(spec, keys, chartWidth(slot)), data, slot) });
      }
    }
  }

  function chartWidth(slot) {
    return Math.max(280, Math.floor(slot.clientWidth || 420));
  }

  // Charts follow the window's width.
  let resizing = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => {
      for (const byKey of charts.values()) {
        for (const c of byKey.values()) c.plot.setSize({ width: chartWidth(c.slot), height: 200 });
      }
    }, 100);
  });

  // points is how many samples each drawn chart holds, for tests:
  // {chain: {chart: n}}.
  function points() {
    const out = {};
    for (const [chain, byKey] of charts) {
      out[chain] = {};
      for (const [key, c] of byKey) out[chain][key] = c.plot.data[0].length;
    }
    return out;
  }

  return { update, points };
})();
