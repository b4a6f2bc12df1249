// Small helpers the status page shares: building elements (text only,
// never HTML from data) and formatting numbers and times.
"use strict";
window.statusDOM = (function () {
  // el builds an element: attrs sets attributes (class, data-*), children
  // are elements or strings (added as text).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null && v !== false) e.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  // ago is a duration in ms in words: "0.4 s", "12 s", "3 min", "2 h".
  function ago(ms) {
    if (!(ms >= 0)) return "–";
    if (ms < 10000) return (ms / 1000).toFixed(1) + " s";
    if (ms < 120000) return Math.round(ms / 1000) + " s";
    if (ms < 7200000) return Math.round(ms / 60000) + " min";
    return (ms / 3600000).toFixed(1) + " h";
  }

  // utc is an ISO time as "14:02:05 UTC" (with the date when not today).
  function utc(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return "–";
    const t = d.toISOString();
    const today = new Date().toISOString().slice(0, 10);
    const day = t.slice(0, 10) === today ? "" : t.slice(0, 10) + " ";
    return day + t.slice(11, 19) + " UTC";
  }

  function pct(x) {
    if (typeof x !== "number" || !isFinite(x)) return "–";
    return (x * 100).toFixed(x > 0 && x < 0.1 ? 1 : 0) + " %";
  }

  function msec(x) {
    if (typeof x !== "number" || !isFinite(x) || x <= 0) return "–";
    return x < 10 ? x.toFixed(1) + " ms" : Math.round(x) + " ms";
  }

  function num(x) {
    return typeof x === "number" ? x.toLocaleString("en-US") : "–";
  }

  // label turns an identifier such as "cloud_outage" into "cloud outage".
  function label(s) {
    return String(s || "").replace(/_/g, " ");
  }

  return { el, ago, utc, pct, msec, num, label };
})();
