// HSLR live page: equity, positions, regime per pair and the kill switch, from the API's SSE stream.
// No build step, no dependency. The token comes from the URL fragment (#token=..., never sent to the
// server) or the form, is kept in sessionStorage and goes out only in the Authorization header (fetch
// streaming instead of EventSource, which cannot set headers). Values are written with textContent only.
"use strict";

const TOPICS = ["portfolio", "regime.adjusted", "governance"];
const state = { equity: [], token: null, last: 0 };
const $ = (id) => document.getElementById(id);

function fmt(x, digits) {
  return x === null || x === undefined || Number.isNaN(x) ? "–" : Number(x).toFixed(digits);
}
function money(x) {
  return x === null || x === undefined ? "–"
    : Number(x).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}
function utc(ms) { return new Date(ms).toISOString().replace("T", " ").slice(0, 19); }

function setStatus(text, cls) {
  const el = $("status");
  el.textContent = text;
  el.className = "badge " + cls;
}

function row(table, pair, cells) {
  const body = $(table).tBodies[0];
  let tr = body.querySelector(`tr[data-pair="${CSS.escape(pair)}"]`);
  if (!tr) {
    tr = document.createElement("tr");
    tr.dataset.pair = pair;
    const rows = Array.from(body.rows);
    const after = rows.find((r) => r.dataset.pair > pair);
    body.insertBefore(tr, after || null);
  }
  tr.replaceChildren(...cells.map(([text, cls]) => {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }));
}

function drawEquity() {
  const pts = state.equity.slice(-500);
  if (pts.length < 2) return;
  const t0 = pts[0][0], t1 = pts[pts.length - 1][0];
  const lo = Math.min(...pts.map((p) => p[1])), hi = Math.max(...pts.map((p) => p[1]));
  const x = (t) => (t1 > t0 ? ((t - t0) / (t1 - t0)) * 600 : 0);
  const y = (v) => (hi > lo ? 115 - ((v - lo) / (hi - lo)) * 110 : 60);
  $("equity-line").setAttribute("points", pts.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" "));
}

function addEquity(ts, value) {
  const last = state.equity[state.equity.length - 1];
  if (last && last[0] >= ts) return;
  state.equity.push([ts, value]);
  drawEquity();
}

function onPortfolio(pair, r) {
  if (pair === "") {
    $("equity").textContent = money(r.equity_usd) + " USD";
    $("hwm").textContent = money(r.hwm_usd);
    $("drawdown").textContent = fmt(100 * r.drawdown, 2) + " %";
    const kill = $("kill");
    kill.textContent = r.kill_active ? "ACTIVE" : "inactive";
    kill.className = "big " + (r.kill_active ? "active" : "inactive");
    addEquity(r.ts, r.equity_usd);
    return;
  }
  const pnl = r.unrealized_pnl_usd;
  row("positions", pair, [
    [pair], [fmt(r.position_units, 0)], [fmt(r.avg_price, 5)], [fmt(r.mid, 5)],
    [money(pnl), pnl < 0 ? "neg" : pnl > 0 ? "pos" : ""], [utc(r.ts)],
  ]);
}

function onRegime(pair, r) {
  row("regimes", pair, [
    [pair], [r.regime || "–", "regime-" + r.regime], [fmt(r.prob_stable, 3)],
    [fmt(r.prob_directional, 3)], [fmt(r.prob_event, 3)], [r.tradeable ? "yes" : "no"],
    [r.override_reason || ""], [utc(r.ts)],
  ]);
}

function onEvent(name, data) {
  if (name === "status") {
    setStatus(data.cache === "ok" ? "live" : "cache unavailable", data.cache === "ok" ? "live" : "stale");
    return;
  }
  const r = data.record;
  if (name === "portfolio") onPortfolio(data.pair, r);
  else if (name === "regime.adjusted") onRegime(data.pair, r);
  else if (name === "governance") $("gov-state").textContent = r.state;
  state.last = Math.max(state.last, data.ts);
  $("updated").textContent = "event time " + utc(state.last) + " UTC";
}

function headers() { return { Authorization: "Bearer " + state.token }; }

async function loadHistory() {
  const res = await fetch("/api/v1/equity?order=desc&limit=500", { headers: headers() });
  if (!res.ok) return;
  const page = await res.json();
  page.items.reverse().forEach((r) => addEquity(r.ts, r.equity));
}

function parse(block) {
  let name = "message", data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event:")) name = line.slice(6).trim();
    else if (line.startsWith("data:")) data += line.slice(5).trim();
  }
  if (data) onEvent(name, JSON.parse(data));
}

async function stream() {
  const res = await fetch("/api/v1/stream?topics=" + TOPICS.join(","), { headers: headers() });
  if (res.status === 401) { setStatus("invalid token", "error"); askToken(); return false; }
  if (!res.ok) { setStatus("HTTP " + res.status, "error"); return true; }
  setStatus("live", "live");
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      parse(buf.slice(0, cut));
      buf = buf.slice(cut + 2);
    }
  }
  setStatus("reconnecting", "stale");
  return true;
}

async function run() {
  try { await loadHistory(); } catch (e) { /* the stream still works */ }
  for (;;) {
    let again = true;
    try { again = await stream(); } catch (e) { setStatus("disconnected", "stale"); }
    if (!again) return;
    await new Promise((ok) => setTimeout(ok, 2000));
  }
}

function askToken() {
  const form = $("login");
  form.hidden = false;
  form.onsubmit = (ev) => {
    ev.preventDefault();
    state.token = $("token").value;
    sessionStorage.setItem("hslr-token", state.token);
    form.hidden = true;
    run();
  };
}

function start() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    sessionStorage.setItem("hslr-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname);  // the token leaves the address bar
  }
  state.token = sessionStorage.getItem("hslr-token");
  if (state.token) run(); else { setStatus("token needed", "idle"); askToken(); }
}

document.addEventListener("DOMContentLoaded", start);
