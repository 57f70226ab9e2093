// Shared by the page's modules: the page state, API v1 calls, formatting and table filling.
export const $ = (sel) => document.querySelector(sel);

// name: the demo account acting (server-signed), or null with wallet: true (the wallet signs).
export const state = { deployment: null, address: null, name: null, wallet: false, events: null, history: [] };

export async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
  };
  const reply = await fetch(`/v1${path}`, init);
  const data = await reply.json();
  if (!reply.ok) throw new Error(data.error ? `${data.error.message} (${data.error.code})` : reply.statusText);
  return data;
}

export const usd = (x) => (x === null || x === undefined) ? "–"
  : (Number(x) / 1e18).toLocaleString("en-US", { style: "currency", currency: "USD" });
export const shares = (x) => (Number(x) / 1e18).toLocaleString("en-US", { maximumFractionDigits: 6 });
export const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
// A token amount (an exact decimal string) cut to 6 decimals for reading, never rounded up; the
// exact figure stays in the cell's tooltip (ledger units have 18 decimals: fees leave long tails).
export function amount(s) {
  const exact = String(s);
  const [whole, frac = ""] = exact.split(".");
  const cut = frac.slice(0, 6).replace(/0+$/, "");
  const text = cut ? `${whole}.${cut}` : whole;
  return text === exact ? esc(text) : `<span title="${esc(exact)}">${esc(text)}</span>`;
}
export const short = (h) => h ? `${h.slice(0, 10)}…` : "";

const rendered = new WeakMap();  // tbody -> last HTML: unchanged rows are not rebuilt (buttons stay put)

export function fill(table, rows) {
  const body = $(`${table} tbody`);
  const html = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("")
    || `<tr><td class="muted" colspan="9">none</td></tr>`;
  if (rendered.get(body) === html) return;
  rendered.set(body, html);
  body.innerHTML = html;
}

export function options(select, values) {
  select.innerHTML = values.map((v) => `<option value="${esc(v)}">${esc(v)}</option>`).join("");
}

// A form's fields, empty ones left out (an optional recipient left blank means "myself").
export function formData(form) {
  return Object.fromEntries([...new FormData(form).entries()].filter(([, v]) => v !== ""));
}
