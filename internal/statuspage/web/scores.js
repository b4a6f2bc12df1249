// The open scores on the status page: per chain and provider, the score
// routing ranks by and what it is made of (availability, latency, lag,
// verification failures, censorship, audit results, the penalty and its
// reasons), from the gateway's scores document (the path the section's
// data-scores names: /scores.json), fetched at start and every 5 s while
// the page is visible. The gateway builds that document at most once a
// second, so open pages cost little. Each penalty reason lists the IDs of
// its evidence records; the records themselves stay on the admin listener
// (docs/scores.md says why), and the page says where to read them.
"use strict";
(function () {
  const { el, utc, pct, msec, num, label } = window.statusDOM;
  const box = document.getElementById("scores");
  const src = box && box.dataset.scores;
  if (!src) return; // this gateway's page has no scores section
  const refreshMs = 5000;
  const outcomes = ["passed", "failed", "unavailable", "absent"];
  let last = 0;
  let busy = false;
  let loaded = false;

  const stateLine = el("div", { class: "muted scores-state" }, "loading…");
  const body = el("div", { class: "scores-body" });
  box.replaceChildren(
    el("h2", {}, "Open scores"),
    el("p", { class: "muted" },
      "What routing ranks each provider by, and why. The score is a cost: lower is better. ",
      "Each penalty lists the IDs of its evidence records, which the gateway's operator reads on its admin listener (",
      el("code", {}, "GET /verify/evidence?id=N"), "; censored transactions: ", el("code", {}, "GET /transactions"),
      "): they hold the calls' parameters, so they are not public. For tools: ", el("a", { href: src }, src), "."),
    stateLine,
    body);
  box.hidden = false;

  async function load() {
    if (busy) return;
    busy = true;
    last = Date.now();
    try {
      const r = await fetch(src);
      if (!r.ok) throw new Error("HTTP " + r.status);
      const doc = await r.json();
      if (!doc || !Array.isArray(doc.chains)) throw new Error((doc && doc.error) || "not a scores document");
      body.replaceChildren(...doc.chains.map(chainScores));
      loaded = true;
      stateLine.dataset.state = "ok";
      stateLine.textContent = "generated " + utc(doc.generated);
    } catch (e) {
      stateLine.dataset.state = "error";
      stateLine.textContent = `scores unavailable (${e.message})` + (loaded ? "; showing the last ones" : "");
    } finally {
      busy = false;
    }
  }

  // spanMs orders window names such as "5m", "1h", "24h" by their length.
  function spanMs(w) {
    const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(w);
    if (!m) return Infinity;
    return Number(m[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[m[2]];
  }

  function windows(obj) {
    return Object.keys(obj || {}).sort((a, b) => spanMs(a) - spanMs(b));
  }

  function score(x) {
    if (typeof x !== "number" || !isFinite(x)) return "–";
    return x >= 1000 ? Math.round(x).toLocaleString("en-US") : x.toPrecision(3);
  }

  function evidence(id) {
    const n = Number(id);
    return el("code", { class: "ev", "data-evidence": n, title: `evidence record ${n}: GET /verify/evidence?id=${n} on the admin listener` }, "#" + n);
  }

  function tx(hash) {
    const h = String(hash);
    return el("code", { class: "tx", "data-tx": h, title: h + " (GET /transactions on the admin listener)" },
      h.length > 14 ? h.slice(0, 8) + "…" + h.slice(-4) : h);
  }

  function chainScores(c) {
    const head = el("tr", {}, ["Provider", "State", "Score", "Availability", "Latency p50 / p90 / p99", "Lag",
      "Verification", "Censored", "Audit checks", "Penalty"].map((h) => el("th", {}, h)));
    const rows = (c.providers || []).map((p) => providerRow(p));
    return el("div", { class: "scores-chain", "data-scores-chain": c.name },
      el("h3", {}, c.name),
      el("table", { class: "providers scores-table" }, el("thead", {}, head), el("tbody", {}, rows)));
  }

  function providerRow(p) {
    const a = p.availability || {};
    const l = p.latencyMs || {};
    const cens = p.censorship || {};
    const labels = [p.operator, p.tier, [p.cloud, p.region].filter(Boolean).join(" / ")].filter(Boolean).join(" · ");
    return el("tr", { "data-score-provider": p.name, "data-state": p.state },
      el("td", {}, el("b", {}, p.name), el("div", { class: "reason" }, labels)),
      el("td", {}, label(p.state)),
      el("td", { class: "num", "data-score": p.score }, score(p.score)),
      el("td", { class: "num avail" },
        windows(a.windows).map((w) => el("div", { "data-window": w }, el("span", { class: "w" }, w), " ", pct(a.windows[w]))),
        el("div", { class: "reason" }, `errors ${pct(a.errorRate)}`, a.throttleRate > 0 ? `, throttled ${pct(a.throttleRate)}` : ""),
        el("div", { class: "reason" }, `${num(a.failures)} of ${num(a.requests)} calls failed`)),
      el("td", { class: "num latency" }, `${msec(l.p50)} / ${msec(l.p90)} / ${msec(l.p99)}`,
        el("div", { class: "reason" }, `average ${msec(l.ewma)}`)),
      el("td", { class: "num lag" }, p.lagBlocks ? `${num(p.lagBlocks)} blocks` : "0"),
      el("td", { class: "num verification" }, p.verificationFailures ? `${num(p.verificationFailures)} failed` : "clean"),
      el("td", { class: "num censored" }, num(cens.count || 0)),
      el("td", { class: "audit" }, auditCell(p.audit || {})),
      el("td", { class: "penalty" }, penaltyCell(p.penalty || {})));
  }

  function auditCell(au) {
    const out = windows(au.windows).map((w) => {
      const c = au.windows[w] || {};
      const parts = outcomes.filter((o) => c[o] > 0).map((o) =>
        el("span", { class: "o-" + o, "data-outcome": o }, `${num(c[o])} ${o}`));
      return el("div", { "data-window": w }, el("span", { class: "w" }, w), " ",
        parts.length ? parts.flatMap((s, i) => (i ? [", ", s] : [s])) : el("span", { class: "muted" }, "no checks"));
    });
    const last = au.lastCheck && !au.lastCheck.startsWith("0001-") ? "last " + utc(au.lastCheck) : "no check yet";
    out.push(el("div", { class: "reason" }, last,
      au.lastFailureEvidence ? [", last failure ", evidence(au.lastFailureEvidence)] : ""));
    return out;
  }

  function penaltyCell(pen) {
    const reasons = pen.reasons || [];
    const value = typeof pen.value === "number" ? pen.value : 0;
    const out = [el("div", { class: value >= 0.01 ? "pen bad" : "pen" }, value >= 0.01 ? value.toFixed(2) : "none",
      pen.halfLife ? el("span", { class: "reason" }, ` (half-life ${pen.halfLife})`) : "")];
    if (reasons.length) {
      out.push(el("ul", { class: "reasons" }, reasons.map((r) => {
        const ids = r.evidence || [];
        const txs = r.transactions || [];
        return el("li", { "data-reason": r.reason, "data-count": r.count },
          el("b", {}, label(r.reason)), ` × ${num(r.count)}`,
          ids.length ? [": evidence ", ...ids.map(evidence)] : "",
          txs.length ? [": transactions ", ...txs.map(tx)] : "",
          !ids.length && !txs.length ? el("span", { class: "reason" }, " (no record kept)") : "");
      })));
    }
    return out;
  }

  setInterval(() => {
    if (!document.hidden && Date.now() - last >= refreshMs) load();
  }, 1000);
  load();
})();
