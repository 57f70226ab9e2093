"""relayer.chain.sender: fee bumps of at least 10% on both fields, same-nonce replacement of a stuck
transaction on a real anvil, bounded give-up, back-to-back submits, reverts as typed errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from relayer.chain.nonces import LocalNonceLock, NonceManager
from relayer.chain.sender import FeePolicy, Fees, TxRequest, TxSender, bump, initial_fees
from relayer.errors import CallRevertedError, NonceTakenError, TransactionStuckError
from relayer.store.nonces import shared_nonces
from relayer.store.redis_store import Store
from relayer.types import ChainId

from _roles_fixtures import roles_redis_url  # noqa: F401  (fixture)
from local_services import fixed_port, start_anvil, stop_process

PORT, CHAIN_ID = fixed_port(8736), 31340
KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # anvil dev 1
TO = "0x000000000000000000000000000000000000dEaD"


def test_bump_raises_both_fields_by_at_least_ten_percent() -> None:
    fees = Fees(max_fee_per_gas=1_000, max_priority_fee_per_gas=3)
    for pct in (0, 5, 10, 12, 50):
        bumped = bump(fees, pct)
        assert bumped.max_fee_per_gas * 100 >= fees.max_fee_per_gas * (100 + max(pct, 10))
        assert bumped.max_priority_fee_per_gas * 100 >= fees.max_priority_fee_per_gas * (100 + max(pct, 10))
        assert bumped.max_priority_fee_per_gas > fees.max_priority_fee_per_gas  # even tiny values move
    zero = bump(Fees(max_fee_per_gas=0, max_priority_fee_per_gas=0), 10)
    assert zero.max_fee_per_gas == 1 and zero.max_priority_fee_per_gas == 1


def test_initial_fees_cover_base_fee_rises_and_floor_the_tip() -> None:
    policy = FeePolicy(base_fee_multiplier=2, min_priority_fee=7)
    assert initial_fees(100, 3, policy) == Fees(max_fee_per_gas=207, max_priority_fee_per_gas=7)
    assert initial_fees(100, 50, policy) == Fees(max_fee_per_gas=250, max_priority_fee_per_gas=50)


def test_policy_refuses_bumps_below_what_nodes_accept() -> None:
    with pytest.raises(ValueError):
        FeePolicy(bump_pct=9)


@pytest.fixture(scope="module")
def w3() -> Iterator[Web3]:
    proc = start_anvil(PORT, CHAIN_ID)
    try:
        yield Web3(Web3.HTTPProvider(f"http://127.0.0.1:{PORT}"))
    finally:
        stop_process(proc)


class RecordingSender(TxSender):
    """Records every broadcast attempt; mines a block right after attempt number `mine_after`."""

    def __init__(self, *args: Any, mine_after: int | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[dict[str, Any]] = []
        self.mine_after = mine_after

    def _broadcast(self, tx: dict[str, Any]) -> str:
        tx_hash = super()._broadcast(tx)
        self.sent.append(tx)
        if self.mine_after is not None and len(self.sent) == self.mine_after:
            self.w3.provider.make_request("evm_mine", [])
        return tx_hash


def _sender(w3: Web3, store: Store, mine_after: int | None, **policy: Any) -> RecordingSender:
    account = Account.from_key(KEY)
    pending = lambda: w3.eth.get_transaction_count(account.address, "pending")  # noqa: E731
    nonces = shared_nonces(store, ChainId(CHAIN_ID), account.address, pending)
    return RecordingSender(
        w3, account, ChainId(CHAIN_ID), nonces, FeePolicy(poll_s=0.05, **policy), mine_after=mine_after
    )


@pytest.fixture
def manual_mining(w3: Web3) -> Iterator[None]:
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        yield
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
        w3.provider.make_request("evm_mine", [])


def test_stuck_transaction_is_replaced_with_same_nonce_and_bumped_fees(
    w3: Web3,
    roles_redis_url: str,  # noqa: F811
    manual_mining: None,  # noqa: F811
) -> None:
    store = Store(roles_redis_url, prefix="tx-replace")
    sender = _sender(w3, store, mine_after=2, stuck_after_s=0.3, max_replacements=2, bump_pct=12)
    sent = sender.send(TxRequest(to=TO, value=1, gas=21_000))
    first, second = sender.sent
    assert first["nonce"] == second["nonce"] == sent.nonce
    assert second["maxFeePerGas"] * 100 >= first["maxFeePerGas"] * 112
    assert second["maxPriorityFeePerGas"] * 100 >= first["maxPriorityFeePerGas"] * 112
    assert sent.status == 1 and sent.tx_hash == sent.attempts[1] and len(sent.attempts) == 2
    mined = w3.eth.get_transaction(sent.tx_hash)
    assert mined["maxFeePerGas"] == second["maxFeePerGas"]
    store.redis.close()


def test_transaction_never_mined_gives_up_after_bounded_replacements(
    w3: Web3,
    roles_redis_url: str,  # noqa: F811
    manual_mining: None,  # noqa: F811
) -> None:
    store = Store(roles_redis_url, prefix="tx-stuck")
    sender = _sender(w3, store, mine_after=None, stuck_after_s=0.2, max_replacements=1)
    with pytest.raises(TransactionStuckError):
        sender.send(TxRequest(to=TO, value=1, gas=21_000))
    assert len(sender.sent) == 2
    store.redis.close()


def test_transaction_mined_at_once_is_not_replaced(w3: Web3, roles_redis_url: str) -> None:  # noqa: F811
    store = Store(roles_redis_url, prefix="tx-plain")
    sender = _sender(w3, store, mine_after=None, stuck_after_s=5)
    before = w3.eth.get_transaction_count(sender.account.address)
    sent = sender.send(TxRequest(to=TO, value=1))  # gas estimated
    assert sent.status == 1 and len(sent.attempts) == 1 and sent.nonce == before
    store.redis.close()


def test_back_to_back_submits_get_consecutive_nonces_and_all_mine(w3: Web3) -> None:
    account = Account.from_key(KEY)
    nonces = NonceManager(LocalNonceLock(), lambda: w3.eth.get_transaction_count(account.address, "pending"))
    sender = TxSender(w3, account, ChainId(CHAIN_ID), nonces, FeePolicy(poll_s=0.05))
    pending = [sender.submit(TxRequest(to=TO, value=1, gas=21_000)) for _ in range(3)]
    assert [p.nonce for p in pending] == list(range(pending[0].nonce, pending[0].nonce + 3))
    assert all(sender.wait(p).status == 1 for p in pending)


def test_a_call_that_would_revert_raises_with_its_revert_data(w3: Web3) -> None:
    account = Account.from_key(KEY)
    nonces = NonceManager(LocalNonceLock(), lambda: w3.eth.get_transaction_count(account.address, "pending"))
    sender = TxSender(w3, account, ChainId(CHAIN_ID), nonces, FeePolicy(poll_s=0.05), chain="test")
    reverting_init = bytes.fromhex("60006000fd")  # PUSH1 0 PUSH1 0 REVERT: a deployment that always reverts
    with pytest.raises(CallRevertedError) as info:
        sender.send(TxRequest(to=None, data=reverting_init))
    assert info.value.chain == "test" and "would revert" in str(info.value)


def test_a_transaction_dropped_from_the_pool_is_sent_again_without_waiting_to_be_stuck(
    w3: Web3,
    roles_redis_url: str,  # noqa: F811
    manual_mining: None,  # noqa: F811
) -> None:
    store = Store(roles_redis_url, prefix="tx-dropped")
    sender = _sender(w3, store, mine_after=2, stuck_after_s=600, drop_check_s=0.1, max_replacements=1)
    pending = sender.submit(TxRequest(to=TO, value=1, gas=21_000))
    w3.provider.make_request("anvil_dropTransaction", [pending.attempts[0]])
    sent = sender.wait(pending)  # the second broadcast (same nonce, bumped fees) is mined
    assert sent.status == 1 and sent.nonce == pending.nonce and len(sent.attempts) == 2
    store.redis.close()


def test_a_transaction_whose_nonce_another_one_used_is_reported_as_such(
    w3: Web3,
    roles_redis_url: str,  # noqa: F811
    manual_mining: None,  # noqa: F811
) -> None:
    store = Store(roles_redis_url, prefix="tx-taken")
    sender = _sender(w3, store, mine_after=None, stuck_after_s=600, drop_check_s=0.1)
    pending = sender.submit(TxRequest(to=TO, value=1, gas=21_000))
    other = {
        "type": 2, "chainId": CHAIN_ID, "nonce": pending.nonce, "to": TO, "value": 2, "gas": 21_000,
        "maxFeePerGas": 2 * pending.fees.max_fee_per_gas,
        "maxPriorityFeePerGas": 2 * pending.fees.max_priority_fee_per_gas,
    }
    w3.eth.send_raw_transaction(Account.from_key(KEY).sign_transaction(other).raw_transaction)
    w3.provider.make_request("evm_mine", [])
    with pytest.raises(NonceTakenError) as info:
        sender.wait(pending)
    assert info.value.nonce == pending.nonce
    store.redis.close()
