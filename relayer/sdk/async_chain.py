"""The AsyncClient's chain side: an AsyncWeb3 (AsyncHTTPProvider) per chain of the config, contract
reads, and user transactions signed locally (EIP-1559 fees from relayer.chain.sender's policy, the
nonce from the node under an asyncio lock per account, a refusal decoded before anything is sent)."""

from __future__ import annotations

import asyncio
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import AsyncHTTPProvider, AsyncWeb3, Web3
from web3.contract import AsyncContract, Contract
from web3.exceptions import ContractCustomError, ContractLogicError, Web3Exception, Web3RPCError
from web3.types import EventData, TxParams, TxReceipt, Wei

from relayer.chain.abi import abi_of, decode_error, revert_data
from relayer.chain.sender import initial_fees
from relayer.context import USER_FEE_POLICY, Context
from relayer.errors import ActionError, ChainCallError, ConfigError
from relayer.sdk.shared import calldata
from relayer.services.transfers import Explainer
from relayer.types import checksum

RECEIPT_TIMEOUT_S = 120.0
RECEIPT_POLL_S = 0.2


class AsyncChains:
    """One AsyncWeb3 per configured chain (its first RPC URL), built on first use."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._w3: dict[int, AsyncWeb3] = {}
        self._nonce_locks: dict[tuple[int, str], asyncio.Lock] = {}
        self._contracts: dict[tuple[int, str, str], AsyncContract] = {}

    def w3(self, chain_id: int) -> AsyncWeb3:
        """The AsyncWeb3 of `chain_id` (ConfigError if the config has no such chain)."""
        if chain_id not in self._w3:
            config = next((c for c in self.ctx.settings.chains.values() if c.chain_id == chain_id), None)
            if config is None:
                raise ConfigError([("chains", f"no chain with chain_id {chain_id}")])
            provider = AsyncHTTPProvider(config.rpc_urls[0], request_kwargs={"timeout": config.rpc_timeout_s})
            self._w3[chain_id] = AsyncWeb3(provider)
        return self._w3[chain_id]

    async def close(self) -> None:
        """Close every provider's HTTP session."""
        for w3 in self._w3.values():
            await w3.provider.disconnect()
        self._w3.clear()
        self._contracts.clear()

    def contract(self, chain_id: int, name: str, address: str) -> AsyncContract:
        """Contract `name` (a build artifact) at `address` on `chain_id`, for awaited reads."""
        key = (chain_id, name, checksum(address))
        if key not in self._contracts:
            self._contracts[key] = self.w3(chain_id).eth.contract(address=Web3.to_checksum_address(address),
                                                                  abi=abi_of(name))
        return self._contracts[key]

    async def call(self, chain_id: int, name: str, address: str, fn: str, *args: Any) -> Any:
        """The view `fn(*args)` of contract `name` at `address`, at the latest block (ChainCallError if it fails)."""
        try:
            return await self.contract(chain_id, name, address).functions[fn](*args).call()
        except Web3Exception as err:
            raise ChainCallError(str(chain_id), f"eth_call {fn}", str(err)) from err

    async def transact(
        self, chain_id: int, account: LocalAccount, contract: Contract, fn: str, *args: Any,
        explainer: Explainer, value: int = 0,
    ) -> TxReceipt:
        """Send `contract.fn(*args)` from `account` and wait for its receipt; ActionError with the
        explained reason if it would revert (estimated first) or reverted."""
        w3 = self.w3(chain_id)
        data = calldata(contract, fn, *args)
        params: TxParams = {"from": account.address, "to": contract.address, "data": data, "value": Wei(value)}
        try:
            estimate = int(await w3.eth.estimate_gas(params))
        except (ContractCustomError, ContractLogicError) as err:
            error = decode_error(revert_data(err))
            if error is None:
                raise ActionError(f"{fn} would revert: {getattr(err, 'message', None) or err}") from None
            raise explainer.error(error) from None
        gas = estimate * (100 + USER_FEE_POLICY.gas_margin_pct) // 100
        base_fee = int((await w3.eth.get_block("latest")).get("baseFeePerGas", 0))
        try:
            tip = int(await w3.eth.max_priority_fee)
        except (Web3RPCError, ValueError):
            tip = 0
        fees = initial_fees(base_fee, tip, USER_FEE_POLICY)
        lock = self._nonce_locks.setdefault((chain_id, account.address), asyncio.Lock())
        async with lock:  # one account's sends from this client never share a nonce
            nonce = await w3.eth.get_transaction_count(account.address, "pending")
            tx: dict[str, Any] = {
                "type": 2, "chainId": chain_id, "nonce": nonce, "gas": gas, "to": contract.address,
                "data": "0x" + data.hex(), "value": value, "maxFeePerGas": fees.max_fee_per_gas,
                "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
            }
            tx_hash = await w3.eth.send_raw_transaction(account.sign_transaction(tx).raw_transaction)
        receipt = await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S,
                                                            poll_latency=RECEIPT_POLL_S)
        if receipt["status"] != 1:
            raise ActionError(f"{fn} reverted in tx 0x{bytes(tx_hash).hex()}")
        return receipt

    async def receipt(self, chain_id: int, tx_hash: bytes) -> TxReceipt:
        """A mined transaction's receipt."""
        return await self.w3(chain_id).eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]

    async def logs(self, chain_id: int, name: str, address: str, event: str, from_block: int,
                   **filters: Any) -> list[EventData]:
        """`event` logs of contract `name` at `address` since `from_block`, decoded, filtered on indexed args."""
        found = self.contract(chain_id, name, address).events[event]()
        try:
            return list(await found.get_logs(from_block=from_block, argument_filters=filters or None))
        except Web3Exception as err:
            raise ChainCallError(str(chain_id), f"eth_getLogs {event}", str(err)) from err
