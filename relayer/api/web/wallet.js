// The injected wallet (EIP-1193, window.ethereum): connect, switch chain, sign and send the unsigned
// transactions API v1 builds (/v1/tx/*). The server never signs for a wallet account.
import { short } from "./common.js";

const RECEIPT_POLL_MS = 500;
const RECEIPT_TIMEOUT_MS = 180_000;

export const available = () => Boolean(window.ethereum);

export async function connect() {
  const [address] = await window.ethereum.request({ method: "eth_requestAccounts" });
  if (!address) throw new Error("the wallet shared no account");
  return address;
}

export function onAccountsChanged(handler) {
  if (window.ethereum.on) window.ethereum.on("accountsChanged", (accounts) => accounts[0] && handler(accounts[0]));
}

async function switchChain(chainId) {
  const current = await window.ethereum.request({ method: "eth_chainId" });
  if (Number(current) === chainId) return;
  try {
    await window.ethereum.request({ method: "wallet_switchEthereumChain", params: [{ chainId: `0x${chainId.toString(16)}` }] });
  } catch (err) {
    if (err.code === 4902) throw new Error(`add chain ${chainId} to your wallet first (${err.message})`);
    throw err;
  }
}

async function receipt(hash) {
  const deadline = Date.now() + RECEIPT_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const found = await window.ethereum.request({ method: "eth_getTransactionReceipt", params: [hash] });
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, RECEIPT_POLL_MS));
  }
  throw new Error(`transaction ${hash} not mined after ${RECEIPT_TIMEOUT_MS / 1000} s`);
}

// A gas limit with headroom over the estimate: a price round pushed into the same block makes the
// oracle walk one more round, and an exact estimate then runs out of gas (seen in CI: an empty revert).
const GAS_HEADROOM_NUM = 5n;
const GAS_HEADROOM_DEN = 4n;
const GAS_HEADROOM_FLAT = 50000n;
async function gasLimit(tx) {
  const estimate = BigInt(await window.ethereum.request({ method: "eth_estimateGas", params: [tx] }));
  return "0x" + (estimate * GAS_HEADROOM_NUM / GAS_HEADROOM_DEN + GAS_HEADROOM_FLAT).toString(16);
}

// Send a plan's steps in order, each mined before the next (a deposit's approval, then the deposit);
// `progress` gets a line per stage. Returns the last step's hash.
export async function sendPlan(plan, progress) {
  let hash = null;
  for (const [i, step] of plan.steps.entries()) {
    const where = plan.steps.length > 1 ? `step ${i + 1}/${plan.steps.length}: ` : "";
    await switchChain(step.chain_id);
    progress(`${where}${step.description}: confirm in your wallet…`);
    const tx = { from: plan.account, to: step.to, data: step.data, value: step.value };
    tx.gas = await gasLimit(tx);
    hash = await window.ethereum.request({ method: "eth_sendTransaction", params: [tx] });
    progress(`${where}${step.description}: waiting for ${short(hash)} to be mined…`);
    const mined = await receipt(hash);
    if (Number(mined.status) !== 1) throw new Error(`${step.description}: transaction ${hash} reverted`);
  }
  return hash;
}
