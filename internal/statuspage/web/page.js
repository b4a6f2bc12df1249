// The status page: renders /status.json's snapshot (chains, operators,
// clouds and regions, incidents), then keeps it live from /status/events
// (a snapshot every second, incident events at once, a "sample" when the
// charts' history has a new point).
"use strict";
(function () {
  const { el, ago, utc, pct, msec, num, label } = window.statusDOM;
  const state = { snap: null, incidents: new Map(), receivedAt: 0 };
  const severityRank = { minor: 1, major: 2, critical: 3 };

  // applySnapshot makes snap the page's truth (its incidents too).
  function applySnapshot(snap) {
    state.snap = snap;
    state.receivedAt = Date.now();
    state.incidents = new Map((snap.incidents || []).map((i) => [i.id, i]));
    renderSummary();
    renderTimeline();
    renderChains();
  }

  // applyEvent shows an incident event at once, before the next snapshot.
  function applyEvent(ev) {
    if (!ev || !ev.incident || !ev.incident.id) return;
    state.incidents.set(ev.incident.id, ev.incident);
    renderSummary();
    renderTimeline();
  }

  function isOpen(i) {
    return !i.end || i.end.startsWith("0001-");
  }

  function renderSummary() {
    const box = document.getElementById("summary");
    const open = [...state.incidents.values()].filter(isOpen);
    const chains = (state.snap && state.snap.chains) || [];
    const notReady = chains.filter((c) => !c.ready);
    let level = "ok";
    for (const i of open) {
      if ((severityRank[i.severity] || 0) > (severityRank[level] || 0)) level = i.severity;
    }
    if (notReady.length) level = "critical";
    let text = "All systems operational";
    if (notReady.length) {
      text = notReady.map((c) => `${c.name}: not serving (${c.notReady || "no agreed head"})`).join("; ");
    } else if (open.length === 1) {
      text = open[0].message || label(open[0].kind);
    } else if (open.length > 1) {
      text = `${open.length} open incidents`;
    }
    box.dataset.level = level;
    box.textContent = text;
  }

  function renderTimeline() {
    const list = document.getElementById("timeline");
    const all = [...state.incidents.values()].sort((a, b) =>
      (isOpen(b) - isOpen(a)) || (Date.parse(b.start) - Date.parse(a.start)));
    document.getElementById("no-incidents").hidden = all.length > 0;
    list.replaceChildren(...all.map(incidentItem));
  }

  function incidentItem(i) {
    const open = isOpen(i);
    const since = Date.now() - Date.parse(i.start);
    const when = open
      ? `since ${utc(i.start)} (${ago(since)})`
      : `${utc(i.start)} – ${utc(i.end)} (${ago(Date.parse(i.end) - Date.parse(i.start))})`;
    const affected = [];
    if (i.clouds && i.clouds.length) affected.push("clouds: " + i.clouds.join(", "));
    if (i.regions && i.regions.length) affected.push("regions: " + i.regions.join(", "));
    if (i.operators && i.operators.length) affected.push("operators: " + i.operators.join(", "));
    if (i.providers && i.providers.length) affected.push("providers: " + i.providers.join(", "));
    const updates = (i.updates || []).slice().reverse();
    return el("li", {
      class: "incident", "data-incident-id": i.id, "data-kind": i.kind,
      "data-state": open ? "open" : "ended", "data-severity": i.severity,
    },
    el("div", {},
      el("span", { class: "badge " + (open ? "open" : "ended") }, open ? "open" : "ended"), " ",
      el("span", { class: "badge " + i.severity }, i.severity), " ",
      el("b", {}, label(i.kind)), " · ", i.chain, " · ",
      el("span", { class: "when" }, when)),
    el("div", { class: "msg" }, i.message || ""),
    el("div", { class: "affected" }, affected.join(" · "),
      i.impact ? ` · user impact: ${i.impact}` : ""),
    updates.length ? el("details", {},
      el("summary", {}, `${updates.length} update${updates.length > 1 ? "s" : ""}`),
      el("ul", {}, updates.map((u) => el("li", {}, `${utc(u.at)} — ${u.severity}, impact ${u.impact}: ${u.message}`))))
      : null);
  }

  // chainBox is the chain's section, made once so that its charts stay.
  function chainBox(name) {
    const chains = document.getElementById("chains");
    let box = chains.querySelector(`[data-chain="${CSS.escape(name)}"]`);
    if (!box) {
      box = el("section", { class: "card chain", "data-chain": name },
        el("div", { class: "chain-head" }),
        el("h3", {}, "Clouds and regions"),
        el("div", { class: "clouds" }),
        el("h3", {}, "Operators"),
        el("div", { class: "table" }),
        el("div", { class: "charts" }));
      chains.append(box);
    }
    return box;
  }

  function renderChains() {
    for (const c of state.snap.chains || []) {
      const box = chainBox(c.name);
      box.querySelector(".chain-head").replaceChildren(...chainHead(c));
      box.querySelector(".clouds").replaceChildren(...clouds(c));
      box.querySelector(".table").replaceChildren(providerTable(c));
    }
  }

  function chainHead(c) {
    const a = c.answers || {};
    const out = [
      el("h2", {}, c.name),
      el("span", { class: "muted" }, `chain ID ${c.chainId}`),
      el("span", { class: "stat" }, "head ", el("b", { "data-head": c.head }, "#" + num(c.head))),
      el("span", { class: "stat", "data-age-ms": c.headAgeMs }, "age ", el("b", {}, ago(c.headAgeMs)),
        c.blockTimeMs ? ` (blocks every ${ago(c.blockTimeMs)})` : ""),
      el("span", { class: "stat" }, "answers ", el("b", {}, num(a.served)), " served, ",
        el("b", {}, num(a.failed)), " failed, ", el("b", {}, num(a.slowed)), " slow"),
    ];
    if (!c.ready) out.push(el("span", { class: "stale" }, "not serving: " + (c.notReady || "no agreed head")));
    if (c.stale) out.push(el("span", { class: "stale" }, "answers may be stale: " + c.stale));
    return out;
  }

  // clouds groups the chain's providers by cloud, then region.
  function clouds(c) {
    const byCloud = new Map();
    for (const p of c.providers || []) {
      const cloud = p.cloud || "unlabelled";
      if (!byCloud.has(cloud)) byCloud.set(cloud, new Map());
      const regions = byCloud.get(cloud);
      const region = p.region || "–";
      if (!regions.has(region)) regions.set(region, []);
      regions.get(region).push(p);
    }
    return [...byCloud.keys()].sort().map((cloud) => {
      const regions = byCloud.get(cloud);
      const ps = [...regions.values()].flat();
      const up = ps.filter((p) => p.state === "up").length;
      const health = up === ps.length ? "up" : up === 0 ? "down" : "partial";
      const share = c.cloudShare ? c.cloudShare[cloud] : undefined;
      return el("div", { class: "cloud", "data-cloud": cloud, "data-health": health },
        el("div", {}, el("span", { class: "name" }, cloud), " ",
          el("span", { class: "muted" }, `${up}/${ps.length} up · ${pct(share)} of traffic`)),
        [...regions.keys()].sort().map((region) => el("div", { class: "region" },
          regions.get(region).map((p) => el("span", { class: "dot s-" + p.state, title: `${p.name}: ${p.state}` })),
          region)));
    });
  }

  function providerTable(c) {
    const head = el("tr", {}, ["Provider", "Operator", "Cloud / region", "Tier", "State", "Head", "Latency p50 / p99",
      "Errors", "Share", "Verification", "Censored"].map((h) => el("th", {}, h)));
    const rows = (c.providers || []).map((p) => el("tr", { "data-provider": p.name, "data-state": p.state },
      el("td", {}, p.name),
      el("td", {}, p.operator),
      el("td", {}, [p.cloud, p.region].filter(Boolean).join(" / ") || "–"),
      el("td", {}, p.tier),
      el("td", {}, el("div", { class: "state" }, el("span", { class: "dot s-" + p.state }), label(p.state)),
        p.reason ? el("div", { class: "reason" }, p.reason) : null),
      el("td", { class: "num" }, "#" + num(p.head), p.lagBlocks ? ` (−${p.lagBlocks})` : ""),
      el("td", { class: "num" }, `${msec(p.p50Ms)} / ${msec(p.p99Ms)}`),
      el("td", { class: "num" }, pct(p.errorRate)),
      el("td", { class: "num" }, pct(p.share)),
      el("td", { class: "num" }, p.verifyFailures ? `${num(p.verifyFailures)} failed` : "clean",
        p.penalty > 0.01 ? ` (penalty ${p.penalty.toFixed(2)})` : ""),
      el("td", { class: "num" }, num(p.censored))));
    return el("table", { class: "providers" }, el("thead", {}, head), el("tbody", {}, rows));
  }

  // The "updated" line ages between snapshots.
  function tick() {
    const u = document.getElementById("updated");
    if (state.snap) u.textContent = `updated ${utc(state.snap.at)} (${ago(Date.now() - state.receivedAt)} ago)`;
  }

  function setLive(s, text) {
    const l = document.getElementById("live");
    l.dataset.live = s;
    l.textContent = text;
  }

  async function loadHistory() {
    try {
      const r = await fetch("/status/history.json", { cache: "no-store" });
      if (r.ok) window.statusCharts.update(await r.json());
    } catch (e) {
      // the next sample event tries again
    }
  }

  function connect() {
    const es = new EventSource("/status/events");
    es.onopen = () => setLive("live", "live");
    es.onerror = () => setLive("reconnecting", "reconnecting…");
    es.addEventListener("snapshot", (e) => {
      const first = !state.snap;
      applySnapshot(JSON.parse(e.data));
      if (first) loadHistory();
    });
    es.addEventListener("incident", (e) => applyEvent(JSON.parse(e.data)));
    es.addEventListener("sample", loadHistory);
  }

  async function start() {
    try {
      const r = await fetch("/status.json", { cache: "no-store" });
      if (r.ok) {
        applySnapshot(await r.json());
        loadHistory();
      }
    } catch (e) {
      setLive("reconnecting", "gateway unreachable");
    }
    connect();
    setInterval(tick, 1000);
  }

  start();
})();
