"""Find unhealthy accounts with one lens eth_call and liquidate each; tolerate competing keepers."""

from typing import Any

from pydantic import BaseModel
from web3 import Web3
from web3.exceptions import ContractCustomError, ContractLogicError

from relayer.keeper.artifacts import error_selectors
from relayer.keeper.tracker import AccountTracker

# Reverts that mean "someone else got there first" (or prices moved): skip, never retry blindly.
BENIGN_ERRORS = frozenset({"LiquidationAccountHealthy", "LiquidationPricesNotFresh"})
LENS_CHUNK = 1_000
LIQUIDATION_GAS = 3_000_000


class KeeperRound(BaseModel):
    """Outcome of one keeper pass."""

    checked: int = 0
    """Accounts checked through the lens."""
    unhealthy: int = 0
    """Accounts the lens reported liquidatable."""
    sent: list[str] = []
    """Transaction hashes of liquidations sent."""
    skipped_benign: int = 0
    """Accounts a simulation showed already handled (competing keeper) or not liquidatable now."""
    reverted: int = 0
    """Sent liquidations that reverted on-chain (a competitor's landed between simulation and inclusion)."""


class Keeper:
    """One keeper: `run_once` = refresh accounts, batch health check, simulate, send."""

    def __init__(self, w3: Web3, sender: str, tracker: AccountTracker, lens: Any, module: Any,
                 max_repay: int = 2**256 - 1) -> None:
        self.w3 = w3
        self.sender = Web3.to_checksum_address(sender)
        self.tracker = tracker
        self.lens = lens
        self.module = module
        self.max_repay = max_repay
        self.errors = error_selectors(module.abi)

    def unhealthy_accounts(self) -> tuple[int, list[str]]:
        """(accounts checked, liquidatable accounts) — one eth_call per LENS_CHUNK accounts."""
        self.tracker.refresh()
        accounts = sorted(self.tracker.accounts)
        found: list[str] = []
        for i in range(0, len(accounts), LENS_CHUNK):
            found += self.lens.functions.liquidatable(accounts[i:i + LENS_CHUNK]).call()
        return len(accounts), found

    def _revert_name(self, err: Exception) -> str:
        """Custom error name of a simulated revert ('' if unknown). web3 raises
        ContractCustomError with `.data`; with raw RPC errors (some middlewares) the data sits in
        the error dict."""
        data = getattr(err, "data", None)
        if data is None and err.args and isinstance(err.args[0], dict):
            data = err.args[0].get("data")
        if isinstance(data, dict):
            data = data.get("data")
        return self.errors.get(str(data or "")[:10], "")

    def liquidate(self, checked: int, unhealthy: list[str], wait: bool = True) -> KeeperRound:
        """Simulates then sends a liquidation per account; one a competitor already made (the
        simulation reverts with a benign error) is skipped, any other revert is raised."""
        result = KeeperRound(checked=checked, unhealthy=len(unhealthy))
        for account in unhealthy:
            call = self.module.functions.liquidate(account, self.max_repay)
            try:
                call.call({"from": self.sender})
            except (ContractCustomError, ContractLogicError, ValueError) as err:
                if self._revert_name(err) in BENIGN_ERRORS:
                    result.skipped_benign += 1
                    continue
                raise
            tx = call.transact({"from": self.sender, "gas": LIQUIDATION_GAS, "gasPrice": 0})
            result.sent.append("0x" + bytes(tx).hex())
            if wait:  # the next simulation must see this liquidation's effects
                receipt = self.w3.eth.wait_for_transaction_receipt(tx, timeout=120)
                if receipt["status"] != 1:
                    result.reverted += 1  # a competitor's transaction landed first
        return result

    def run_once(self, wait: bool = True) -> KeeperRound:
        """One pass: refresh accounts, batch health check, liquidate every unhealthy account."""
        return self.liquidate(*self.unhealthy_accounts(), wait=wait)
