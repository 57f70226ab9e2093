// xmargin web app: plain ES module over API v1, live through server-sent events (no build step).
const $ = (sel) => document.querySelector(sel);
const state = { deployment: null, address: null, name: null, events: null, history: [], messages: [] };

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  };
  const reply = await fetch(`/v1${path}`, init);
  const data = await reply.json();
  if (!reply.ok) throw new Error(data.error ? `${data.error.message} (${data.error.code})` : reply.statusText);
  return data;
}

const usd = (x) => (x === null || x === undefined) ? "–"
  : (Number(x) / 1e18).toLocaleString("en-US", { style: "currency", currency: "USD" });
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const short = (h) => h ? `${h.slice(0, 10)}…` : "";

function fill(table, rows) {
  $(`${table} tbody`).innerHTML = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("")
    || `<tr><td class="muted" colspan="9">none</td></tr>`;
}

function options(select, values) {
  select.innerHTML = values.map((v) => `<option value="${esc(v)}">${esc(v)}</option>`).join("");
}

// ---------------------------------------------------------------- account page

function renderAccount(view) {
  const m = view.margin;
  $("#equity").textContent = m ? usd(m.equity) : "–";
  $("#im").textContent = m ? usd(m.initial_margin) : "–";
  $("#mm").textContent = m ? usd(m.maintenance_margin) : "–";
  $("#health").textContent = m ? `${m.health}${m.margin_ratio ? ` (equity ${m.margin_ratio.toFixed(2)}× MM)` : ""}` : "–";
  const ratio = m && m.margin_ratio ? Math.min(1, m.margin_ratio / 5) : (m && m.equity > 0 ? 1 : 0);
  const bar = $("#health-bar");
  bar.style.width = `${Math.round(ratio * 100)}%`;
  bar.style.background = !m ? "#ccc" : m.liquidatable ? "#b3261e" : m.equity < m.initial_margin ? "#e0a100" : "#2e9d57";
  fill("#balances", view.balances.map((b) => [esc(b.symbol), esc(b.amount)]));
  fill("#positions", (m ? m.positions : []).map((p) => [
    esc(p.market), esc(p.size_text), usd(p.mark_price), usd(p.pnl)]));
  const anyPrice = (x) => Number(x) === 0 || Number(x) >= 1e76;  // 0 / max uint: no limit
  fill("#orders", (m ? m.pending_orders : []).map((o) => [
    esc(o.market), esc(o.size_text), anyPrice(o.acceptable_price) ? "any price" : usd(o.acceptable_price),
    `t=${o.settle_from}`, `t=${o.expires_at}`]));
  if (m) {
    state.history.push({ t: Date.now(), equity: Number(m.equity) / 1e18 });
    state.history = state.history.slice(-120);
    drawChart();
  }
}

let byChain = { running: false, again: false };

async function renderByChain() {
  // One request at a time (each reads every route): updates arriving meanwhile coalesce into one more.
  if (byChain.running) { byChain.again = true; return; }
  byChain.running = true;
  try {
    await fetchByChain();
  } catch (err) {
    $("#live").textContent = `error: ${err.message}`;
  } finally {
    byChain.running = false;
    if (byChain.again) { byChain.again = false; renderByChain(); }
  }
}

async function fetchByChain() {
  if (!state.address) return;
  const [collateral, found] = await Promise.all([
    api(`/accounts/${state.address}/collateral`), api(`/explorer?q=${state.address}`)]);
  const credited = {};
  for (const msg of found.messages) {
    if (msg.kind !== "deposit" || msg.state !== "applied") continue;
    const key = `${msg.source_chain}`;
    credited[key] = credited[key] || {};
    credited[key][msg.symbol] = (credited[key][msg.symbol] || 0) + Number(msg.amount_text);
  }
  fill("#by-chain", collateral.by_chain.map((c) => [
    esc(c.chain),
    esc(Object.entries(credited[c.chain] || {}).map(([s, a]) => `${a} ${s}`).join(", ") || "–"),
    esc(Object.entries(c.withdrawable).map(([s, a]) => `${a} ${s}`).join(", ")),
  ]));
}

function stateText(msg) {
  return `<span class="state-${msg.state}">${esc(msg.state.replace(/_/g, " "))}</span> <span class="muted">${esc(msg.detail)}</span>`;
}

function renderPending(p) {
  fill("#pending-deposits", p.deposits.map((d) => [
    esc(d.source_chain), d.nonce, `${esc(d.amount_text)} ${esc(d.symbol)}`,
    `${stateText(d)}${d.confirmations_left ? ` (${d.confirmations_left} confirmations left)` : ""}`]));
  fill("#withdrawals", p.withdrawals.map((w) => [
    esc(w.dest_chain), w.nonce, `${esc(w.amount_text)} ${esc(w.symbol)}`, stateText(w)]));
}

function drawChart() {
  const canvas = $("#chart");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const series = [
    { color: "#1f6feb", label: "equity", points: state.history.map((h) => h.equity) },
    { color: "#e0a100", label: "ETH", points: (state.prices || []).map((p) => p.ETH).filter((x) => x) },
  ];
  series.forEach((s, i) => {
    ctx.fillStyle = s.color;
    const last = s.points.length ? s.points[s.points.length - 1] : null;
    ctx.fillText(`${s.label} ${last === null ? "–" : last.toFixed(2)}`, 8 + i * 160, 12);
    if (s.points.length < 2) return;
    const lo = Math.min(...s.points), hi = Math.max(...s.points), span = hi - lo || 1;
    ctx.strokeStyle = s.color;
    ctx.beginPath();
    s.points.forEach((v, j) => {
      const x = 8 + (j / (s.points.length - 1)) * (canvas.width - 16);
      const y = canvas.height - 8 - ((v - lo) / span) * (canvas.height - 30);
      if (j) ctx.lineTo(x, y); else ctx.moveTo(x, y);
    });
    ctx.stroke();
  });
}

const shares = (x) => (Number(x) / 1e18).toLocaleString("en-US", { maximumFractionDigits: 6 });

async function pollVault() {
  if (!state.deployment || !state.deployment.markets.length) return;
  const v = await api(`/vault${state.address ? `?owner=${state.address}` : ""}`);
  $("#vault-equity").textContent = usd(v.equity);
  $("#vault-share-price").textContent = usd(v.share_price);
  $("#vault-total-shares").textContent = shares(v.total_shares);
  $("#vault-traders-pnl").textContent = usd(v.traders_pnl);
  $("#vault-adl").textContent = v.needs_deleverage ? "(needs deleverage: the keeper closes winners)"
    : `(traders' profit ${(Number(v.pnl_factor) / 1e16).toFixed(1)} % of assets, cap ${(Number(v.max_pnl_factor) / 1e16).toFixed(0)} %)`;
  const o = v.owner;
  $("#vault-shares").textContent = o ? `${shares(o.shares)} (worth ${usd(o.value)})` : "–";
  $("#vault-redemptions").textContent = !o || !o.pending.length ? "none" : o.pending.map((r) =>
    `#${r.id}: ${shares(r.shares)} ${r.ready ? "ready" : `ready in ${r.ready_at - v.block_timestamp} s`}`).join("; ");
}

async function pollPrices() {
  if (!state.deployment || !state.deployment.markets.length) return;
  const prices = await api("/prices");
  const point = {};
  for (const p of prices) point[p.feed] = Number(p.price) / 1e18;
  state.prices = [...(state.prices || []), point].slice(-120);
  drawChart();
}

function subscribe() {
  if (state.events) state.events.close();
  const query = state.address ? `?account=${state.address}` : "";
  const events = new EventSource(`/v1/events${query}`);
  events.addEventListener("open", () => { $("#live").textContent = "live"; });
  events.addEventListener("error", () => { $("#live").textContent = "reconnecting…"; });
  events.addEventListener("account", (e) => { renderAccount(JSON.parse(e.data)); renderByChain(); });
  events.addEventListener("pending", (e) => { renderPending(JSON.parse(e.data)); renderByChain(); });
  events.addEventListener("routes", (e) => renderRoutes(JSON.parse(e.data)));
  state.events = events;
}

function selectAccount(name, address) {
  state.name = name;
  state.address = address;
  state.history = [];
  $("#account-address").textContent = address;
  subscribe();
}

async function act(path, body) {
  const out = $("#action-result");
  out.className = "";
  out.textContent = "sending…";
  try {
    const result = await api(path, { account: state.name, ...body });
    out.className = "ok";
    out.textContent = `done: tx ${result.tx_hash}` + (result.route_nonce !== undefined ? `, nonce ${result.route_nonce}` : "");
  } catch (err) {
    out.className = "error";
    out.textContent = `refused: ${err.message}`;
  }
}

function formData(form) { return Object.fromEntries(new FormData(form).entries()); }

// ---------------------------------------------------------------- operator page

function renderRoutes(statuses) {
  fill("#routes", statuses.map((s) => [
    esc(s.route), `${esc(s.source_chain)} → ${esc(s.dest_chain)}`, s.source_nonce, s.attested_nonce ?? "?",
    s.processed_nonce, s.caught_up ? "caught up" : `${s.lag_blocks} blocks, ${s.lag_seconds}s`]));
  options($("#explorer-route"), ["", ...statuses.map((s) => s.route)]);
}

async function loadOperator() {
  const [signatures, audit] = await Promise.all([api("/validators/signatures"), api("/audit")]);
  fill("#signatures", signatures.map((s) => [esc(s.route), `<code>${esc(s.validator)}</code>`, s.nonce]));
  $("#audit-status").textContent = audit.breaches.length ? `${audit.breaches.length} breach(es)` : "solvent: no breach";
  fill("#audit", audit.tokens.map((t) => [esc(t.chain), esc(t.symbol), t.balance, t.custodied, t.liquidity,
    t.unreleased, t.uncredited]));
  $("#breaches").innerHTML = audit.breaches.map((b) => `<li>${esc(b.invariant)} ${esc(b.where)}: ${esc(b.detail)}</li>`).join("");
}

// ---------------------------------------------------------------- explorer page

async function explore(q, route) {
  $("#explorer-error").textContent = "";
  try {
    const found = await api(`/explorer?q=${encodeURIComponent(q)}${route ? `&route=${encodeURIComponent(route)}` : ""}`);
    const rows = found.messages.map((m) => [
      esc(m.route), m.nonce, `${esc(m.amount_text)} ${esc(m.symbol)}`, esc(m.state.replace(/_/g, " ")), esc(m.detail),
      esc(m.signers.map(short).join(", ")), m.processed_tx ? `${short(m.processed_tx)} (${m.processed_gas})` : ""]);
    rows.push(...found.refused.map((r) => [esc(r.chain), "", "", "refused", esc(r.reason), "", short(r.tx_hash)]));
    fill("#explorer-results", rows);
  } catch (err) {
    $("#explorer-error").textContent = err.message;
    fill("#explorer-results", []);
  }
}

// ---------------------------------------------------------------- wiring

function show() {
  const page = (location.hash || "#account").slice(1);
  for (const p of ["account", "operator", "explorer"]) {
    $(`#page-${p}`).hidden = p !== page;
    $(`#nav-${p}`).classList.toggle("active", p === page);
  }
  if (page === "operator") loadOperator().catch((e) => { $("#audit-status").textContent = e.message; });
}

async function main() {
  state.deployment = await api("/deployment");
  const d = state.deployment;
  document.querySelectorAll(".spoke-select").forEach((s) => options(s, d.spokes));
  document.querySelectorAll(".asset-select").forEach((s) => options(s, d.assets));
  document.querySelectorAll(".market-select").forEach((s) => options(s, d.markets));
  const tokens = () => options($("#deposit-token"), d.tokens[$("#deposit-form [name=chain]").value] || []);
  $("#deposit-form [name=chain]").addEventListener("change", tokens);
  tokens();

  const accounts = await api("/demo-accounts");
  const select = $("#account-select");
  select.innerHTML = accounts.map((a) => `<option value="${a.address}" data-name="${esc(a.name)}">${esc(a.name)} ${short(a.address)}</option>`).join("");
  select.addEventListener("change", () => selectAccount(select.selectedOptions[0].dataset.name, select.value));
  if (window.ethereum) {
    const button = $("#connect-wallet");
    button.hidden = false;
    button.addEventListener("click", async () => {
      const [address] = await window.ethereum.request({ method: "eth_requestAccounts" });
      selectAccount(null, address);  // read-only here; the wallet signs its own transactions
    });
  }
  const wanted = new URLSearchParams(location.search).get("account");
  const first = accounts.find((a) => a.name === wanted) || accounts[0];
  if (first) { select.value = first.address; selectAccount(first.name, first.address); } else subscribe();

  $("#deposit-form").addEventListener("submit", (e) => { e.preventDefault(); act("/actions/deposit", formData(e.target)); });
  $("#withdraw-form").addEventListener("submit", (e) => { e.preventDefault(); act("/actions/withdraw", formData(e.target)); });
  $("#trade-form").addEventListener("submit", (e) => { e.preventDefault(); act("/actions/trade", formData(e.target)); });
  $("#close-position").addEventListener("click", () => act("/actions/close", { market: $("#trade-form [name=market]").value }));
  $("#vault-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    await act("/actions/vault-deposit", formData(e.target));
    pollVault().catch(() => {});
  });
  $("#explorer-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = formData(e.target);
    explore(f.q, f.route);
  });
  window.addEventListener("hashchange", show);
  show();
  setInterval(() => pollPrices().catch(() => {}), 3000);
  pollPrices().catch(() => {});
  setInterval(() => pollVault().catch(() => {}), 3000);
  pollVault().catch(() => {});
}

main().catch((err) => { $("#live").textContent = `error: ${err.message}`; });
