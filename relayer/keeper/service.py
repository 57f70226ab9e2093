"""The keeper as a relayer role: a Keeper over the deployment's margin contracts that signs locally
with its configured key (nonces under the shared Redis lock, stuck transactions replaced)."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from relayer.chain.client import ChainClient
from relayer.chain.contracts import load_artifact
from relayer.chain.margin import MarginContracts
from relayer.config import Deployment, KeeperConfig
from relayer.keeper.liquidator import LIQUIDATION_GAS, Keeper
from relayer.keeper.tracker import AccountTracker
from relayer.store.redis_store import Store
from relayer.submitter.nonce import NonceManager
from relayer.submitter.tx import FeePolicy, TxSender

USD = 10**18


def tx_sender(client: ChainClient, account: LocalAccount, store: Store, policy: FeePolicy) -> TxSender:
    """A TxSender of `account` on `client`'s chain, nonces handed out under the Redis lock."""
    address = account.address
    nonces = NonceManager(store, client.chain_id, address, lambda: client.w3.eth.get_transaction_count(address, "pending"))
    return TxSender(client.w3, account, client.chain_id, nonces, policy)


def send_with(sender: TxSender) -> Any:
    """A Keeper `send` that signs the call locally and waits for its receipt."""

    def send(call: Any) -> tuple[str, int]:
        data = call._encode_transaction_data()  # noqa: SLF001 - web3's own calldata encoder
        sent = sender.send({"to": call.address, "data": data, "gas": LIQUIDATION_GAS})
        return sent.tx_hash, sent.status

    return send


def build_keeper(config: KeeperConfig, deployment: Deployment, client: ChainClient, store: Store) -> Keeper:
    """A Keeper following every market of the deployment from the margin engine's deploy block."""
    contracts = MarginContracts(client, deployment)
    account: LocalAccount = Account.from_key(config.key.get_secret_value())
    policy = FeePolicy(stuck_after_s=config.stuck_after_s, bump_pct=config.fee_bump_pct)
    tracker = AccountTracker(
        client.w3,
        load_artifact("PerpMarket").abi,
        [m.address for m in contracts.config.markets.values()],
        from_block=contracts.config.start_block,
    )
    return Keeper(
        client.w3,
        account.address,
        tracker,
        contracts.lens,
        contracts.liquidation,
        max_repay=config.max_repay_usd * USD,
        send=send_with(tx_sender(client, account, store, policy)),
    )
