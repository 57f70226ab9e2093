"""Gas benchmark of the xmargin contracts on a real anvil: hub deposit batches (amortised quorum
verification against the per-message baseline), spoke deposits, withdrawal requests and releases.

Run from the project root with the runtime venv: `.venv/bin/python bench/gas.py` (or `make bench`).
It starts its own anvil (ports 8780-8789), deploys build/contracts with web3, relays real events
with checkpoints signed by `relayer.proofs.checkpoint`, prints a table and writes
bench/results/gas.json. See bench/README.md."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the relayer package of this checkout comes first

from eth_account import Account  # noqa: E402
from eth_utils import keccak  # noqa: E402
from web3 import Web3  # noqa: E402
from web3.logs import DISCARD  # noqa: E402
from web3.types import TxReceipt  # noqa: E402

try:
    from relayer.proofs.checkpoint import Checkpoint, pack_signatures, sign  # noqa: E402
    from relayer.types import ChainId  # noqa: E402
except ImportError as err:  # pragma: no cover - a set-up problem, reported plainly
    raise SystemExit(
        f"bench/gas.py needs the relayer package (relayer.proofs.checkpoint): {err}. "
        "Run it with the runtime venv from the project root, or put the package on PYTHONPATH."
    ) from err

from _chain import ANVIL, BenchError, anvil as start_anvil, deploy, send  # noqa: E402

HUB_CHAIN_ID = ChainId(31337)  # the anvil's own chain id: hub ledger and spoke lockbox share the chain
SPOKE_CHAIN_ID = ChainId(31338)  # the spoke's id as the ledger knows it (its lockbox's source chain)
NATIVE_TOKEN = "0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE"
THRESHOLD = 3
VALIDATOR_KEYS = [keccak(text=f"xmargin-bench-validator-{i}") for i in range(5)]  # throwaway keys
USDC, WETH = 1, 2
USDC_DECIMALS = 6
UNIT = 10**USDC_DECIMALS
DEPOSIT_AMOUNT = 1_000 * UNIT
BATCH_SIZES = (1, 10, 50, 100)
RELEASE_SIZES = (1, 10)
RESULTS = ROOT / "bench" / "results" / "gas.json"
BUDGETS = {  # the project's gas budgets (receipt gasUsed)
    "hub deposit, batch of 1, existing balance": 75_000,
    "hub deposit, batch of 100, existing balances, per message": 12_000,
    "hub deposit, batch of 100, new balances, per message": 30_000,
    "spoke ERC20 deposit, steady state": 75_000,
}


@dataclass
class HubBatch:
    """Hub gas of one `processDeposits` batch (21k intrinsic and calldata included)."""

    batch_size: int
    balances: Literal["new", "existing"]
    total_gas: int
    per_message: float
    amortisation: float = 1.0  # per-message gas at batch size 1 / per-message gas here


@dataclass
class Report:
    """Everything the benchmark measured; written as bench/results/gas.json."""

    setup: dict[str, Any]
    hub_deposits: list[HubBatch] = field(default_factory=list)
    spoke_deposits: dict[str, int] = field(default_factory=dict)
    hub_withdrawal_request: dict[str, int] = field(default_factory=dict)
    spoke_releases: list[dict[str, Any]] = field(default_factory=list)
    budgets: list[dict[str, Any]] = field(default_factory=list)


class Deployment:
    """Hub ledger, spoke lockbox and a 6-decimal token on one anvil, plus relaying helpers that
    turn real `Deposited` / `WithdrawalQueued` events into signed batches."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        accounts = list(w3.eth.accounts)  # web3 types the tuple as holding exactly one address
        self.admin, self.depositor, self.relayer = accounts[0], accounts[1], accounts[2]
        self.holder = accounts[3]  # a hub account that can send transactions (withdrawals)
        self.validators = [Account.from_key(k).address for k in VALIDATOR_KEYS]
        self.ledger = deploy(w3, "MarginLedger", self.admin, sender=self.admin)
        self.lockbox = deploy(w3, "Lockbox", HUB_CHAIN_ID, self.ledger.address, self.admin, sender=self.admin)
        self.token = deploy(w3, "MockERC20", "USD Coin", "USDC", USDC_DECIMALS, sender=self.admin)
        self._unrelayed_deposits: list[TxReceipt] = []  # receipts not yet carried to the hub
        self._unrelayed_withdrawals: list[TxReceipt] = []  # receipts not yet carried to the spoke
        self._configure()

    def _tx(self, call: Any, sender: str | None = None, value: int = 0) -> TxReceipt:
        """Sends `call` (admin by default) and returns its successful receipt."""
        return send(self.w3, call, sender or self.admin, value)

    def _configure(self) -> None:
        """Route, validator sets (3 of 5 both ways), listings, and a funded, approved depositor."""
        ledger, lockbox, token = self.ledger.functions, self.lockbox.functions, self.token
        self._tx(ledger.registerSpoke(SPOKE_CHAIN_ID, self.lockbox.address))
        self._tx(ledger.setValidators(SPOKE_CHAIN_ID, self.validators, THRESHOLD))
        self._tx(ledger.listAsset(USDC, "USDC", 18))
        self._tx(ledger.listAsset(WETH, "WETH", 18))
        self._tx(ledger.listToken(SPOKE_CHAIN_ID, token.address, USDC, USDC_DECIMALS))
        self._tx(ledger.listToken(SPOKE_CHAIN_ID, NATIVE_TOKEN, WETH, 18))
        self._tx(lockbox.setValidators(HUB_CHAIN_ID, self.validators, THRESHOLD))
        self._tx(lockbox.listToken(token.address))
        self._tx(lockbox.listToken(NATIVE_TOKEN))
        self._tx(token.functions.mint(self.depositor, 10**15 * UNIT), self.depositor)
        self._tx(token.functions.approve(self.lockbox.address, 2**256 - 1), self.depositor)

    # ------------------------------------------------------------------ spoke side

    def deposit(self, account: str, amount: int = DEPOSIT_AMOUNT) -> TxReceipt:
        """ERC20 deposit on the spoke by the depositor, credited to hub `account`."""
        receipt = self._tx(self.lockbox.functions.deposit(self.token.address, amount, account), self.depositor)
        self._unrelayed_deposits.append(receipt)
        return receipt

    def deposit_native(self, account: str, value: int) -> TxReceipt:
        """Native deposit on the spoke by the depositor, credited to hub `account`."""
        receipt = self._tx(self.lockbox.functions.depositNative(account), self.depositor, value)
        self._unrelayed_deposits.append(receipt)
        return receipt

    def relay_deposits(self) -> TxReceipt:
        """Submits every deposit not yet relayed as one batch to the hub ledger."""
        receipts, self._unrelayed_deposits = self._unrelayed_deposits, []
        events = [e for r in receipts for e in self.lockbox.events.Deposited().process_receipt(r, errors=DISCARD)]
        messages = [(e.args.depositor, e.args.account, e.args.token, e.args.amount) for e in events]
        last = events[-1].args
        checkpoint = Checkpoint(
            source_chain_id=SPOKE_CHAIN_ID, source=self.lockbox.address, nonce=last.nonce, head=last.head
        )
        sigs = self._signatures(checkpoint, self.ledger.address)
        receipt = self._tx(self.ledger.functions.processDeposits(messages, checkpoint.as_tuple(), sigs), self.relayer)
        credited = self.ledger.events.DepositCredited().process_receipt(receipt, errors=DISCARD)
        if len(credited) != len(messages):  # measure the credit path only, never claims
            raise BenchError(f"{len(credited)} of {len(messages)} deposits credited")
        return receipt

    # ------------------------------------------------------------------ hub side

    def request_withdrawal(self, amount_ledger_units: int) -> TxReceipt:
        """USDC withdrawal of the holder's hub balance to the holder on the spoke."""
        call = self.ledger.functions.requestWithdrawal(USDC, amount_ledger_units, SPOKE_CHAIN_ID, self.holder)
        receipt = self._tx(call, self.holder)
        self._unrelayed_withdrawals.append(receipt)
        return receipt

    def relay_withdrawals(self) -> TxReceipt:
        """Submits every withdrawal not yet relayed as one batch to the spoke lockbox."""
        receipts, self._unrelayed_withdrawals = self._unrelayed_withdrawals, []
        queued = self.ledger.events.WithdrawalQueued()
        events = [e for r in receipts for e in queued.process_receipt(r, errors=DISCARD)]
        messages = [(e.args.account, e.args.recipient, e.args.token, e.args.amount) for e in events]
        last = events[-1].args
        checkpoint = Checkpoint(
            source_chain_id=HUB_CHAIN_ID, source=self.ledger.address, nonce=last.nonce, head=last.head
        )
        sigs = self._signatures(checkpoint, self.lockbox.address)
        call = self.lockbox.functions.processWithdrawals(messages, checkpoint.as_tuple(), sigs)
        receipt = self._tx(call, self.relayer)
        released = self.lockbox.events.Released().process_receipt(receipt, errors=DISCARD)
        if len(released) != len(messages):  # measure paid releases only, never parked ones
            raise BenchError(f"{len(released)} of {len(messages)} withdrawals released")
        return receipt

    def _signatures(self, checkpoint: Checkpoint, dest: str) -> bytes:
        """THRESHOLD validator signatures over `checkpoint` for `dest`, packed ascending."""
        keys = VALIDATOR_KEYS[:THRESHOLD]
        return pack_signatures(
            {Account.from_key(k).address: sign(checkpoint, HUB_CHAIN_ID, dest, k) for k in keys}
        )


def fresh_accounts(label: str, count: int) -> list[str]:
    """`count` deterministic addresses that never held a hub balance."""
    return [Web3.to_checksum_address(keccak(text=f"bench-{label}-{i}")[-20:]) for i in range(count)]


def measure_hub_deposits(d: Deployment) -> list[HubBatch]:
    """Per batch size: a batch to new balances, then the same accounts again (existing)."""
    d.deposit(fresh_accounts("warm-up", 1)[0])
    d.relay_deposits()  # route head and liquidity are non-zero from here on
    rows: list[HubBatch] = []
    for size in BATCH_SIZES:
        accounts = fresh_accounts(f"batch-{size}", size)
        for balances in ("new", "existing"):  # the same accounts twice: first credit, then a top-up
            for account in accounts:
                d.deposit(account)
            gas = d.relay_deposits()["gasUsed"]
            rows.append(HubBatch(size, balances, gas, round(gas / size, 1)))
    for balances in ("new", "existing"):
        single = next(r for r in rows if r.batch_size == 1 and r.balances == balances)
        for row in rows:
            if row.balances == balances:
                row.amortisation = round(single.per_message / row.per_message, 2)
    return rows


def measure_spoke_deposits(d: Deployment) -> dict[str, int]:
    """ERC20 deposits (first ever on the lockbox, then steady state) and native deposits."""
    first = d.deposit(d.holder)["gasUsed"]
    d.deposit(d.relayer)
    steady = d.deposit(d.holder)["gasUsed"]
    native_first = d.deposit_native(d.holder, 10**18)["gasUsed"]
    native_steady = d.deposit_native(d.holder, 10**18)["gasUsed"]
    return {
        "erc20_first": first,
        "erc20_steady": steady,
        "native_first": native_first,
        "native_steady": native_steady,
    }


def measure_withdrawals(d: Deployment) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Hub withdrawal requests (first and steady), then spoke release batches of each size."""
    d.deposit(d.holder, 10_000 * UNIT)
    d.relay_deposits()  # funds the holder's hub balance
    one_usdc = UNIT * 10**12  # ledger units (18 decimals)
    first = d.request_withdrawal(one_usdc)
    steady = d.request_withdrawal(one_usdc)
    d.relay_withdrawals()  # warms the spoke's withdrawal route
    requests = {"first": first["gasUsed"], "steady": steady["gasUsed"]}
    releases = []
    for size in RELEASE_SIZES:
        for _ in range(size):
            d.request_withdrawal(one_usdc)
        gas = d.relay_withdrawals()["gasUsed"]
        releases.append({"batch_size": size, "token": "ERC20", "total_gas": gas, "per_message": round(gas / size, 1)})
    return requests, releases


def anvil_version() -> str:
    """`anvil --version`'s first line."""
    out = subprocess.run([str(ANVIL), "--version"], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0].strip()


def run() -> Report:
    """Starts anvil, deploys, measures everything, stops anvil."""
    report = Report(
        setup={
            "anvil": anvil_version(),
            "quorum": f"{THRESHOLD}-of-{len(VALIDATOR_KEYS)}",
            "gas": "receipt gasUsed: 21k intrinsic and calldata included",
            "token": f"ERC20, {USDC_DECIMALS} decimals, listed on the hub as an 18-decimal asset",
            "baseline": "batch size 1: every message carries its own quorum proof (per-message "
            "verification, as a Hyperlane multisig ISM); amortisation = baseline gas/msg / gas/msg",
        }
    )
    with start_anvil(HUB_CHAIN_ID) as w3:
        d = Deployment(w3)
        report.spoke_deposits = measure_spoke_deposits(d)
        report.hub_deposits = measure_hub_deposits(d)
        report.hub_withdrawal_request, report.spoke_releases = measure_withdrawals(d)
    report.budgets = check_budgets(report)
    return report


def check_budgets(report: Report) -> list[dict[str, Any]]:
    """Each budget with the measured figure and whether it is met."""
    hub = {(r.batch_size, r.balances): r.per_message for r in report.hub_deposits}
    measured = {
        "hub deposit, batch of 1, existing balance": hub[(1, "existing")],
        "hub deposit, batch of 100, existing balances, per message": hub[(100, "existing")],
        "hub deposit, batch of 100, new balances, per message": hub[(100, "new")],
        "spoke ERC20 deposit, steady state": report.spoke_deposits["erc20_steady"],
    }
    return [
        {"what": what, "budget": budget, "measured": round(measured[what]), "met": measured[what] <= budget}
        for what, budget in BUDGETS.items()
    ]


def print_table(report: Report) -> None:
    """The report as plain text tables."""
    print(f"xmargin gas ({report.setup['anvil']}, {report.setup['quorum']} quorum, {report.setup['gas']})")
    print("\nHub: processDeposits, gas per credited deposit (batch size 1 = per-message verification baseline)")
    print(f"{'batch':>6} {'balances':>9} {'total gas':>11} {'gas/msg':>9} {'amortisation':>13}")
    for r in report.hub_deposits:
        print(f"{r.batch_size:>6} {r.balances:>9} {r.total_gas:>11,} {r.per_message:>9,.0f} {r.amortisation:>12.1f}x")
    s = report.spoke_deposits
    print("\nSpoke: deposits (one transaction each)")
    print(f"  ERC20 deposit, first ever    {s['erc20_first']:>9,}")
    print(f"  ERC20 deposit, steady state  {s['erc20_steady']:>9,}")
    print(f"  native deposit, first        {s['native_first']:>9,}")
    print(f"  native deposit, steady state {s['native_steady']:>9,}")
    w = report.hub_withdrawal_request
    print("\nHub: requestWithdrawal")
    print(f"  first                        {w['first']:>9,}")
    print(f"  steady state                 {w['steady']:>9,}")
    print("\nSpoke: processWithdrawals (ERC20 releases)")
    print(f"{'batch':>6} {'total gas':>11} {'gas/msg':>9}")
    for row in report.spoke_releases:
        print(f"{row['batch_size']:>6} {row['total_gas']:>11,} {row['per_message']:>9,.0f}")
    print("\nBudgets")
    for b in report.budgets:
        print(f"  {b['what']:<58} {b['measured']:>7,} <= {b['budget']:>7,}  {'met' if b['met'] else 'MISSED'}")


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark, prints the table, writes the JSON results; exit status 1 if a budget
    is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON results")
    args = parser.parse_args(argv)
    report = run()
    print_table(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(asdict(report), indent=2) + "\n")
    print(f"\nwrote {args.out}")
    return 0 if all(b["met"] for b in report.budgets) else 1


if __name__ == "__main__":
    sys.exit(main())
