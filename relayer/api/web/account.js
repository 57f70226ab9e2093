// The account page's figures: margin, collateral, pending transfers (with the recovery of a parked
// withdrawal), the price/equity chart and the LP vault (with its redemptions).
import { $, amount, api, esc, fill, shares, state, usd } from "./common.js";

export function renderAccount(view) {
  const m = view.margin;
  $("#equity").textContent = m ? usd(m.equity) : "–";
  $("#im").textContent = m ? usd(m.initial_margin) : "–";
  $("#mm").textContent = m ? usd(m.maintenance_margin) : "–";
  $("#health").textContent = m ? `${m.health}${m.margin_ratio ? ` (equity ${m.margin_ratio.toFixed(2)}× MM)` : ""}` : "–";
  const ratio = m && m.margin_ratio ? Math.min(1, m.margin_ratio / 5) : (m && m.equity > 0 ? 1 : 0);
  const bar = $("#health-bar");
  bar.style.width = `${Math.round(ratio * 100)}%`;
  bar.style.background = !m ? "#ccc" : m.liquidatable ? "#b3261e" : m.equity < m.initial_margin ? "#e0a100" : "#2e9d57";
  fill("#balances", view.balances.map((b) => [esc(b.symbol), amount(b.amount)]));
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

const byChain = { running: false, again: false };

export async function renderByChain() {
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
    credited[msg.source_chain] = credited[msg.source_chain] || {};
    credited[msg.source_chain][msg.symbol] = (credited[msg.source_chain][msg.symbol] || 0) + Number(msg.amount_text);
  }
  fill("#by-chain", collateral.by_chain.map((c) => [
    esc(c.chain),
    Object.entries(credited[c.chain] || {}).map(([s, a]) => `${amount(a)} ${esc(s)}`).join(", ") || "–",
    Object.entries(c.withdrawable).map(([s, a]) => `${amount(a)} ${esc(s)}`).join(", "),
  ]));
}

function stateText(msg) {
  return `<span class="state-${msg.state}">${esc(msg.state.replace(/_/g, " "))}</span> <span class="muted">${esc(msg.detail)}</span>`;
}

// A parked release can be retried on its spoke (anyone may; refused with the reason while it would
// still fail), or refunded to the hub balance or redirected, asked on the hub by its account.
function recovery(w) {
  if (w.state !== "parked" || w.recovery_target !== null) return "";
  const data = `data-chain="${esc(w.dest_chain)}" data-nonce="${w.nonce}"`;
  return `<button data-action="retry" ${data}>Retry payout</button>
    <button data-action="refund" ${data}>Refund to hub balance</button>
    <input id="redirect-${esc(w.dest_chain)}-${w.nonce}" size="14" placeholder="new recipient 0x…">
    <button data-action="redirect" ${data}>Redirect</button>`;
}

export function renderPending(p) {
  fill("#pending-deposits", p.deposits.map((d) => [
    esc(d.source_chain), d.nonce, `${esc(d.amount_text)} ${esc(d.symbol)}`,
    `${stateText(d)}${d.confirmations_left ? ` (${d.confirmations_left} confirmations left)` : ""}`]));
  fill("#withdrawals", p.withdrawals.map((w) => [
    esc(w.dest_chain), w.nonce, `${esc(w.amount_text)} ${esc(w.symbol)}`, stateText(w), recovery(w)]));
}

export function drawChart() {
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

export async function pollPrices() {
  if (!state.deployment || !state.deployment.markets.length) return;
  const prices = await api("/prices");
  const point = {};
  for (const p of prices) point[p.feed] = Number(p.price) / 1e18;
  state.prices = [...(state.prices || []), point].slice(-120);
  drawChart();
}

// A queued redemption: complete it (refused with the reason while not ready) or cancel it.
function redemption(r, now) {
  const when = r.ready ? "ready" : `ready in ${r.ready_at - now} s`;
  return `<li>#${r.id}: ${shares(r.shares)} shares (worth ${usd(r.value)}), ${when}
    <button data-action="execute" data-id="${r.id}">Complete</button>
    <button data-action="cancel" data-id="${r.id}">Cancel</button></li>`;
}

const redemptionsShown = { html: null };

export async function pollVault() {
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
  const html = !o || !o.pending.length ? "none" : `<ul>${o.pending.map((r) => redemption(r, v.block_timestamp)).join("")}</ul>`;
  if (html !== redemptionsShown.html) {
    redemptionsShown.html = html;
    $("#vault-redemptions").innerHTML = html;
  }
}
