// The operator page (routes, validators' last signatures, the solvency audit) and the explorer.
import { $, api, esc, fill, options, short } from "./common.js";

export function renderRoutes(statuses) {
  fill("#routes", statuses.map((s) => [
    esc(s.route), `${esc(s.source_chain)} → ${esc(s.dest_chain)}`, s.source_nonce, s.attested_nonce ?? "?",
    s.processed_nonce, s.caught_up ? "caught up" : `${s.lag_blocks} blocks, ${s.lag_seconds}s`]));
  const route = $("#explorer-route");
  const chosen = route.value;
  options(route, ["", ...statuses.map((s) => s.route)]);
  route.value = chosen;
}

export async function loadOperator() {
  const [signatures, audit] = await Promise.all([api("/validators/signatures"), api("/audit")]);
  fill("#signatures", signatures.map((s) => [esc(s.route), `<code>${esc(s.validator)}</code>`, s.nonce]));
  $("#audit-status").textContent = audit.breaches.length ? `${audit.breaches.length} breach(es)` : "solvent: no breach";
  fill("#audit", audit.tokens.map((t) => [esc(t.chain), esc(t.symbol), t.balance, t.custodied, t.liquidity,
    t.unreleased, t.uncredited]));
  $("#breaches").innerHTML = audit.breaches.map((b) => `<li>${esc(b.invariant)} ${esc(b.where)}: ${esc(b.detail)}</li>`).join("");
}

export async function explore(q, route) {
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
