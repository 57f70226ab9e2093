// What the page does: a demo account acts through /v1/actions/* (signed server-side, DEV ONLY); a
// wallet account gets unsigned transactions from /v1/tx/* and its wallet signs and sends them.
import { $, api, formData, state } from "./common.js";
import { sendPlan } from "./wallet.js";

// action -> [server-signed path, wallet path]; a wallet's trade is a committed order a keeper fills.
const PATHS = {
  deposit: ["/actions/deposit", "/tx/deposit"],
  withdraw: ["/actions/withdraw", "/tx/withdraw"],
  trade: ["/actions/trade", "/tx/order"],
  close: ["/actions/close", "/tx/close"],
  "vault-deposit": ["/actions/vault-deposit", "/tx/vault-deposit"],
  "vault-redeem": ["/actions/vault-redeem", "/tx/vault-redeem"],
  "vault-execute": ["/actions/vault-execute", "/tx/vault-execute"],
  "vault-cancel": ["/actions/vault-cancel", "/tx/vault-cancel"],
  recover: ["/actions/recover", "/tx/recover"],
  retry: ["/actions/retry", "/tx/retry"],
};

function summary(result) {
  let text = `done: tx ${result.tx_hash}`;
  if (result.route_nonce !== undefined) text += `, nonce ${result.route_nonce}`;
  if (result.redemption_id !== undefined && result.redemption_id !== null) text += `, redemption #${result.redemption_id}`;
  if (result.retried_nonce !== undefined) text += `, withdrawal ${result.retried_nonce} paid to ${result.recipient} on ${result.chain}`;
  return text;
}

async function viaWallet(kind, body, out) {
  const plan = await api(PATHS[kind][1], { account: state.address, ...body });
  const hash = await sendPlan(plan, (line) => { out.textContent = line; });
  const next = kind === "trade" || kind === "close" ? "; the order waits for a keeper to fill it at the next price" : "";
  return `done: tx ${hash} (signed by your wallet)${next}`;
}

// Run one action and show its outcome (or the reason it was refused) in #action-result.
export async function act(kind, body, after) {
  const out = $("#action-result");
  out.className = "";
  out.textContent = "sending…";
  try {
    out.textContent = state.wallet ? await viaWallet(kind, body, out)
      : summary(await api(PATHS[kind][0], { account: state.name, ...body }));
    out.className = "ok";
  } catch (err) {
    out.className = "error";
    out.textContent = `refused: ${err.message}`;
  }
  if (after) after();
}

function onSubmit(form, kind, after) {
  $(form).addEventListener("submit", (e) => { e.preventDefault(); act(kind, formData(e.target), after); });
}

// Buttons inside re-rendered tables: one listener on the table, the button's data-* say what to do.
function onButton(table, handlers) {
  $(table).addEventListener("click", (e) => {
    const button = e.target.closest("button[data-action]");
    if (button && handlers[button.dataset.action]) handlers[button.dataset.action](button.dataset);
  });
}

export function wireActions(refreshVault) {
  onSubmit("#deposit-form", "deposit");
  onSubmit("#withdraw-form", "withdraw");
  onSubmit("#trade-form", "trade");
  $("#close-position").addEventListener("click", () => act("close", { market: $("#trade-form [name=market]").value }));
  onSubmit("#vault-form", "vault-deposit", refreshVault);
  onSubmit("#vault-redeem-form", "vault-redeem", refreshVault);
  onButton("#vault-redemptions", {
    execute: (d) => act("vault-execute", { redemption_id: Number(d.id) }, refreshVault),
    cancel: (d) => act("vault-cancel", { redemption_id: Number(d.id) }, refreshVault),
  });
  onButton("#withdrawals", {
    retry: (d) => act("retry", { chain: d.chain, nonce: Number(d.nonce) }),
    refund: (d) => act("recover", { chain: d.chain, nonce: Number(d.nonce) }),
    redirect: (d) => {
      const to = $(`#redirect-${d.chain}-${d.nonce}`).value.trim();
      if (!to) { $("#action-result").className = "error"; $("#action-result").textContent = "refused: enter the new recipient first"; return; }
      act("recover", { chain: d.chain, nonce: Number(d.nonce), new_recipient: to });
    },
  });
}
