"""User transactions: deposit on a spoke lockbox, request a withdrawal on the hub ledger."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from eth_abi import decode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector
from eth_account.signers.local import LocalAccount
from pydantic import BaseModel
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD

from relayer.api.views import Backend, fmt_amount
from relayer.chain.client import ChainClient
from relayer.chain.margin import decode_custom_error
from relayer.errors import ActionError
from relayer.types import NATIVE_TOKEN, checksum

RECEIPT_TIMEOUT_S = 60.0
TIP_WEI = 10**9
GAS_MARGIN_PCT = 30
"""Added to the estimate: the block that includes the call may take another path (e.g. a trade that
also accrues funding because time moved since the estimate)."""


class TxResult(BaseModel):
    """A mined user transaction and the route nonce it produced."""

    tx_hash: str
    block_number: int
    route_nonce: int
    """Nonce of the Deposited / WithdrawalQueued message the transaction appended."""


def to_units(amount: str, decimals: int) -> int:
    """Exact integer units of a decimal amount string; ActionError if it has more decimals or is <= 0."""
    try:
        value = Decimal(amount)
    except InvalidOperation as err:
        raise ActionError(f"amount {amount!r} is not a number") from err
    units = value * (Decimal(10) ** decimals)
    if units != units.to_integral_value() or units <= 0:
        raise ActionError(f"amount {amount} must be positive with at most {decimals} decimals")
    return int(units)


def _send(
    client: ChainClient,
    account: LocalAccount,
    fn: ContractFunction,
    value: int = 0,
    on_revert: Callable[[str], ActionError] | None = None,
) -> dict[str, Any]:
    """Sign and send one call with EIP-1559 fees (gas estimated), wait for its receipt; ActionError on
    revert. `on_revert` turns a custom error's revert data into the error to raise (clear messages)."""
    w3 = client.w3
    base = int(client.get_block("latest")["baseFeePerGas"])
    try:
        # the estimate fails for a call that would revert, with its reason
        gas = int(fn.estimate_gas({"from": account.address, "value": value}))
        tx = fn.build_transaction(
            {
                "from": account.address,
                "value": value,
                "gas": gas * (100 + GAS_MARGIN_PCT) // 100,
                "nonce": w3.eth.get_transaction_count(account.address, "pending"),
                "chainId": client.chain_id,
                "maxFeePerGas": 2 * base + TIP_WEI,
                "maxPriorityFeePerGas": TIP_WEI,
            }
        )
    except ContractCustomError as err:
        if on_revert is not None:
            raise on_revert(str(err.data)) from None
        raise ActionError(f"{fn.fn_name} would revert: {decode_error(fn.contract_abi, str(err.data))}") from None
    except ContractLogicError as err:
        raise ActionError(f"{fn.fn_name} would revert: {err.message or err}") from None
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    deadline = time.monotonic() + RECEIPT_TIMEOUT_S
    while True:
        try:
            receipt = w3.eth.get_transaction_receipt(tx_hash)
            break
        except Exception:  # noqa: BLE001 - not mined yet (web3 raises TransactionNotFound)
            if time.monotonic() > deadline:
                raise ActionError(f"transaction 0x{bytes(tx_hash).hex()} not mined in {RECEIPT_TIMEOUT_S:.0f}s") from None
            time.sleep(0.2)
    if receipt["status"] != 1:
        raise ActionError(f"{fn.fn_name} reverted in tx 0x{bytes(tx_hash).hex()}")
    return dict(receipt)


def decode_error(abi: list[dict[str, Any]], data: str) -> str:
    """`Name(arg=value, ...)` of a custom error's revert data, by the contract's ABI (raw hex if unknown)."""
    raw = bytes.fromhex(data[2:] if data.startswith("0x") else data)
    for item in abi:
        if item.get("type") != "error":
            continue
        types = [i["type"] for i in item["inputs"]]
        if function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})") == raw[:4]:
            values = decode(types, raw[4:])
            args = ", ".join(f"{i['name']}={v}" for i, v in zip(item["inputs"], values, strict=True))
            return f"{item['name']}({args})"
    return data


def chain_id_of(backend: Backend, chain: str) -> int:
    """Chain id from a configured chain name or a numeric id; ActionError if unknown."""
    for config in backend.settings.chains.values():
        if chain in (config.name, str(config.chain_id)):
            return config.chain_id
    raise ActionError(f"unknown chain {chain!r}; configured: {', '.join(backend.settings.chains)}")


def deposit(backend: Backend, chain: str, token: str, amount: str, account: str, key: str) -> TxResult:
    """Deposit `amount` (whole-token decimal) of `token` (symbol or address) on spoke `chain` for hub `account`."""
    chain_id = chain_id_of(backend, chain)
    if chain_id not in backend.deployment.spokes:
        raise ActionError(f"chain {chain} is not a spoke of the deployment")
    tokens = backend.deployment.tokens.get(chain_id, {})
    info = tokens.get(token) or next((t for t in tokens.values() if t.address.lower() == token.lower()), None)
    if info is None:
        raise ActionError(f"no token {token!r} on {chain}; known: {', '.join(tokens)}")
    units = to_units(amount, info.decimals)
    sender: LocalAccount = Account.from_key(key)
    client = backend.client(chain_id)
    lockbox = backend.lockbox(chain_id)
    beneficiary = checksum(account)
    if info.address == NATIVE_TOKEN:
        receipt = _send(client, sender, lockbox.functions.depositNative(beneficiary), value=units)
    else:
        erc20 = client.w3.eth.contract(address=info.address, abi=_ERC20_ABI)
        _send(client, sender, erc20.functions.approve(lockbox.address, units))
        receipt = _send(client, sender, lockbox.functions.deposit(info.address, units, beneficiary))
    (event,) = lockbox.events.Deposited().process_receipt(receipt, errors=DISCARD)
    return TxResult(tx_hash="0x" + bytes(receipt["transactionHash"]).hex(), block_number=receipt["blockNumber"],
                    route_nonce=int(event["args"]["nonce"]))


def withdraw(backend: Backend, asset: str, amount: str, to_chain: str, recipient: str, key: str) -> TxResult:
    """Request a withdrawal of `amount` of ledger asset `asset` to `recipient` on spoke `to_chain`."""
    dest = chain_id_of(backend, to_chain)
    asset_id = backend.deployment.assets.get(asset)
    if asset_id is None:
        raise ActionError(f"unknown asset {asset!r}; known: {', '.join(backend.deployment.assets)}")
    ledger = backend.ledger()
    hub = backend.client(backend.deployment.hub.chain_id)
    _, decimals, *_ = hub.call(ledger.functions.assetInfo(asset_id))
    units = to_units(amount, int(decimals))
    sender: LocalAccount = Account.from_key(key)
    fn = ledger.functions.requestWithdrawal(asset_id, units, dest, checksum(recipient))
    refusal = _WithdrawalRefusal(backend, asset, int(decimals), to_chain, fn)
    receipt = _send(hub, sender, fn, on_revert=refusal.explain)
    (event,) = ledger.events.WithdrawalQueued().process_receipt(receipt, errors=DISCARD)
    return TxResult(tx_hash="0x" + bytes(receipt["transactionHash"]).hex(), block_number=receipt["blockNumber"],
                    route_nonce=int(event["args"]["nonce"]))


class _WithdrawalRefusal:
    """A refused withdrawal in the user's units, with what to do about it."""

    def __init__(self, backend: Backend, asset: str, decimals: int, to_chain: str, fn: ContractFunction) -> None:
        self.backend, self.asset, self.decimals, self.to_chain, self.fn = backend, asset, decimals, to_chain, fn

    def _amount(self, ledger_units: int) -> str:
        return f"{fmt_amount(ledger_units, self.decimals)} {self.asset}"

    def _ledger_units(self, chain_id: int, token_units: int) -> int:
        """Token units on `chain_id` as ledger units of the asset (the ledger's scale for that token)."""
        ledger, hub = self.backend.ledger(), self.backend.client(self.backend.deployment.hub.chain_id)
        token = hub.call(ledger.functions.tokenOf(chain_id, self.backend.deployment.assets[self.asset]))
        _, scale, _ = hub.call(ledger.functions.tokenInfo(chain_id, token))
        return token_units * int(scale)

    def explain(self, data: str) -> ActionError:
        """The refusal from the revert data; an undecodable one keeps the contract's own text."""
        error = decode_custom_error(data, [self.fn.contract_abi])
        if error is None:
            return ActionError(f"requestWithdrawal would revert: {decode_error(self.fn.contract_abi, data)}")
        a = error.args
        if error.name == "WithdrawalExceedsBalance":
            text = (f"insufficient {self.asset}: the account holds {self._amount(int(a['balance']))}, "
                    f"the withdrawal needs {self._amount(int(a['amount']))}")
        elif error.name == "WithdrawalExceedsLiquidity":
            held = self._ledger_units(int(a["chainId"]), int(a["liquidity"]))
            asked = self._ledger_units(int(a["chainId"]), int(a["tokenAmount"]))
            text = (f"{self.to_chain}'s lockbox can pay out only {self._amount(held)} of {self.asset} now, "
                    f"the withdrawal needs {self._amount(asked)}: withdraw less there, or on another spoke "
                    f"(`xmargin account` shows what each spoke can pay)")
        elif error.name == "WithdrawalLeavesAccountUnhealthy":
            text = ("the withdrawal would leave the account below the initial margin of its open positions "
                    "(or a price is stale): close or reduce positions, or withdraw less")
        elif error.name == "WithdrawalsPaused":
            text = "withdrawals are paused by the guardian: nothing was sent; try again once they resume"
        else:
            text = f"requestWithdrawal refused: {error}"
        return ActionError(text)


_ERC20_ABI = [
    {
        "type": "function", "name": "approve", "stateMutability": "nonpayable",
        "inputs": [{"name": "spender", "type": "address"}, {"name": "amount", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    },
    {
        "type": "function", "name": "balanceOf", "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}], "outputs": [{"name": "", "type": "uint256"}],
    },
]
