// xmargin web app: plain ES modules over API v1, live through server-sent events (no build step).
// Modules: common (state, API, formatting), account (figures), actions (demo or wallet-signed),
// wallet (EIP-1193), operator (operator page and explorer).
import { $, api, esc, formData, options, short, state } from "./common.js";
import { pollPrices, pollVault, renderAccount, renderByChain, renderPending } from "./account.js";
import { wireActions } from "./actions.js";
import { explore, loadOperator, renderRoutes } from "./operator.js";
import * as wallet from "./wallet.js";

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

// A demo account (`name`: the server signs for it, DEV ONLY) or the wallet's (`name` null: it signs).
function selectAccount(name, address) {
  state.name = name;
  state.wallet = name === null;
  state.address = address;
  state.history = [];
  $("#account-address").textContent = address;
  $("#signer").textContent = state.wallet ? "your wallet signs every action" : "demo account: the devnet's API signs (DEV ONLY)";
  subscribe();
  pollVault().catch(() => {});
}

function useWallet(address) {
  const select = $("#account-select");
  if (!select.querySelector("option[data-wallet]")) select.insertAdjacentHTML("afterbegin", "<option data-wallet></option>");
  const option = select.querySelector("option[data-wallet]");
  option.value = address;
  option.textContent = `wallet ${short(address)}`;
  select.value = address;
  selectAccount(null, address);
}

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
  select.addEventListener("change", () => {
    const chosen = select.selectedOptions[0];
    selectAccount("wallet" in chosen.dataset ? null : chosen.dataset.name, select.value);
  });
  if (wallet.available()) {
    const button = $("#connect-wallet");
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        useWallet(await wallet.connect());
      } catch (err) {
        $("#action-result").className = "error";
        $("#action-result").textContent = `wallet: ${err.message}`;
      }
    });
    wallet.onAccountsChanged((address) => { if (state.wallet) useWallet(address); });
  }
  const wanted = new URLSearchParams(location.search).get("account");
  const first = accounts.find((a) => a.name === wanted) || accounts[0];
  if (first) { select.value = first.address; selectAccount(first.name, first.address); } else subscribe();

  wireActions(() => pollVault().catch(() => {}));
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
}

main().catch((err) => { $("#live").textContent = `error: ${err.message}`; });
