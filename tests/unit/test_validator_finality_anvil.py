"""A validator facing a misreporting RPC signs nothing: another chain id, a header whose hash is not
its fields', a header that does not link to the last scanned block, a second provider that
disagrees. And an L2 whose finality follows its L1 (`finality: l1`), on real anvils."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from lying_rpc import LyingRpc
from web3 import Web3

from relayer.chain.client import ChainClient
from relayer.config import ChainConfig
from relayer.errors import HeaderMismatchError, LockUnavailableError, PublishError, WrongChainError
from relayer.store.redis_store import Store
from relayer.validator.service import Validator
from relayer.validator.signer_db import SignerDb

from _roles_fixtures import roles_redis_url  # noqa: F401  (fixture)
from anvil_route_net import (
    CONFIRMATIONS,
    DEPOSIT_ROUTE,
    HUB_ID,
    SPOKE_ID,
    VALIDATOR_KEYS,
    Net,
    _deposit,
    _finalize,
    _setup,
    pytestmark,  # noqa: F401  (the same artifact requirement)
)
from local_services import fixed_port, start_anvil, stop_process

HUB_PORT, SPOKE_PORT, OTHER_PORT = fixed_port(8737), fixed_port(8738), fixed_port(8739)
L1_BLOCK = "0x4200000000000000000000000000000000000015"
SLOT0_RUNTIME = "0x60005460005260206000f3"  # returns storage slot 0 to any call (stands in for L1Block.number())


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    procs = [start_anvil(HUB_PORT, HUB_ID), start_anvil(SPOKE_PORT, SPOKE_ID), start_anvil(OTHER_PORT, SPOKE_ID)]
    try:
        yield _setup(HUB_PORT, SPOKE_PORT)
    finally:
        for proc in procs:
            stop_process(proc)


@pytest.fixture
def store(roles_redis_url: str) -> Iterator[Store]:  # noqa: F811
    store = Store(roles_redis_url, prefix=f"fin-{uuid.uuid4().hex[:8]}")
    yield store
    store.redis.close()


@pytest.fixture
def proxy() -> Iterator[LyingRpc]:
    rpc = LyingRpc(f"http://127.0.0.1:{SPOKE_PORT}")
    yield rpc
    rpc.close()


def _spoke(url: str, **extra: object) -> ChainClient:
    values: dict[str, object] = {
        "name": "spoke", "chain_id": SPOKE_ID, "rpc_urls": [url], "role": "spoke",
        "confirmations": CONFIRMATIONS, "log_chunk": 50, "rpc_retries": 0, "rpc_timeout_s": 5.0,
    }
    values.update(extra)
    return ChainClient(ChainConfig(**values))  # type: ignore[arg-type]


def _deployed_at(w3: Web3, address: str) -> int:
    """First block where `address` has code (bisection)."""
    low, high = 0, w3.eth.block_number
    while low < high:
        mid = (low + high) // 2
        if w3.eth.get_code(address, mid):
            high = mid
        else:
            low = mid + 1
    return low


def _validator(net: Net, store: Store, tmp_path: Path, spoke: ChainClient, max_blocks: int = 5000) -> Validator:
    clients = {HUB_ID: net.clients[HUB_ID], SPOKE_ID: spoke}
    db = SignerDb(tmp_path / f"{uuid.uuid4().hex[:8]}.sqlite")
    return Validator(
        "v0", VALIDATOR_KEYS[0], db, store, net.deployment, clients, max_blocks_per_tick=max_blocks,
        start_block=_deployed_at(net.spoke, net.lockbox.address),
    )


def _nothing_signed(validator: Validator, net: Net, store: Store) -> None:
    source, dest = net.lockbox.address, net.ledger.address
    assert validator.db.signed_between(DEPOSIT_ROUTE, source, dest, 0, 10**6) == []
    assert store.signed_nonces(DEPOSIT_ROUTE) == []


def test_an_rpc_lying_about_its_chain_id_is_refused(net: Net, store: Store, proxy: LyingRpc, tmp_path: Path) -> None:
    _deposit(net, [7])
    _finalize(net.spoke)
    proxy.lie = "chain_id"
    validator = _validator(net, store, tmp_path, _spoke(proxy.url))
    with pytest.raises(WrongChainError, match="reports chain id 1"):
        validator.tick(DEPOSIT_ROUTE)
    assert proxy.tampered >= 1
    _nothing_signed(validator, net, store)


def test_a_header_whose_hash_is_not_its_fields_is_refused(
    net: Net, store: Store, proxy: LyingRpc, tmp_path: Path
) -> None:
    _deposit(net, [8])
    _finalize(net.spoke)
    proxy.lie = "hash"
    validator = _validator(net, store, tmp_path, _spoke(proxy.url))
    with pytest.raises(HeaderMismatchError, match="not the hash of its fields"):
        validator.tick(DEPOSIT_ROUTE)
    _nothing_signed(validator, net, store)
    proxy.lie = None  # the honest answer is signed
    assert validator.tick(DEPOSIT_ROUTE).signed != ()


def test_a_header_that_does_not_link_to_the_last_scanned_block_is_refused(
    net: Net, store: Store, proxy: LyingRpc, tmp_path: Path
) -> None:
    validator = _validator(net, store, tmp_path, _spoke(proxy.url), max_blocks=1)
    source, dest = net.lockbox.address, net.ledger.address

    def catch_up() -> None:
        for _ in range(500):
            result = validator.tick(DEPOSIT_ROUTE)
            if result.scanned_to is None or result.scanned_to >= result.finalized_block:
                return
        raise AssertionError("validator did not catch up")

    catch_up()
    signed_before = len(validator.db.signed_between(DEPOSIT_ROUTE, source, dest, 0, 10**6))
    _deposit(net, [9])
    _finalize(net.spoke)
    cursor = validator.db.cursor(DEPOSIT_ROUTE, source)
    assert cursor is not None
    proxy.lie, proxy.target = "parent", cursor.block + 1
    with pytest.raises(HeaderMismatchError, match="is not the last scanned block"):
        validator.tick(DEPOSIT_ROUTE)
    assert validator.db.cursor(DEPOSIT_ROUTE, source) == cursor  # nothing moved, nothing signed
    assert len(validator.db.signed_between(DEPOSIT_ROUTE, source, dest, 0, 10**6)) == signed_before
    proxy.lie = None
    catch_up()
    assert len(validator.db.signed_between(DEPOSIT_ROUTE, source, dest, 0, 10**6)) == signed_before + 1


def test_a_second_provider_that_disagrees_stops_signing(net: Net, store: Store, tmp_path: Path) -> None:
    other = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{OTHER_PORT}"))
    other.provider.make_request("anvil_mine", [hex(net.spoke.eth.block_number + 10)])  # same heights, other blocks
    _deposit(net, [10])
    _finalize(net.spoke)
    spoke = _spoke(f"http://127.0.0.1:{SPOKE_PORT}", cross_check_url=f"http://127.0.0.1:{OTHER_PORT}")
    validator = _validator(net, store, tmp_path, spoke)
    with pytest.raises(HeaderMismatchError, match="second provider has"):
        validator.tick(DEPOSIT_ROUTE)
    _nothing_signed(validator, net, store)
    agreeing = _spoke(f"http://127.0.0.1:{SPOKE_PORT}", cross_check_url=f"http://127.0.0.1:{SPOKE_PORT}")
    assert _validator(net, store, tmp_path, agreeing).tick(DEPOSIT_ROUTE).signed != ()


def test_an_l2_block_is_final_once_the_l1_block_it_reports_is_final(net: Net) -> None:
    """The spoke plays an OP-stack L2 whose L1Block predeploy reports the hub's block number; the
    hub (depth 2) plays its L1. An L2 block is final when its reported L1 block is."""
    net.spoke.provider.make_request("anvil_setCode", [L1_BLOCK, SLOT0_RUNTIME])
    spoke = _spoke(f"http://127.0.0.1:{SPOKE_PORT}", finality="l1", l1_chain="hub", confirmations=12)
    spoke.l1 = net.clients[HUB_ID]
    reported: dict[int, int] = {}
    for _ in range(6):
        l1_now = net.hub.eth.block_number
        net.spoke.provider.make_request("evm_mine", [])  # then the new head's state reports l1_now
        slot = "0x" + l1_now.to_bytes(32, "big").hex()
        net.spoke.provider.make_request("anvil_setStorageAt", [L1_BLOCK, "0x0", slot])
        reported[net.spoke.eth.block_number] = l1_now
        net.hub.provider.make_request("evm_mine", [])
    for number, l1 in reported.items():
        assert spoke.l1_block_at(number) == l1

    def expected() -> int:
        l1_final = net.hub.eth.block_number - CONFIRMATIONS
        return max(n for n in range(net.spoke.eth.block_number + 1) if spoke.l1_block_at(n) <= l1_final)

    first = spoke.finalized_block()
    assert first == expected() and first < net.spoke.eth.block_number  # the newest L2 blocks wait for L1
    net.hub.provider.make_request("anvil_mine", [hex(CONFIRMATIONS)])  # L1 finality moves on
    assert spoke.finalized_block() == expected() == net.spoke.eth.block_number


def _caught_up(validator: Validator) -> list[int]:
    """Tick until the validator reached the finalized block; the nonces it newly signed."""
    signed: list[int] = []
    for _ in range(500):
        result = validator.tick(DEPOSIT_ROUTE)
        signed += result.signed
        if result.scanned_to is None or result.scanned_to >= (result.finalized_block or 0):
            return signed
    raise AssertionError("validator did not catch up")


def test_a_header_inside_the_range_that_does_not_link_to_the_one_below_is_refused(
    net: Net, store: Store, proxy: LyingRpc, tmp_path: Path
) -> None:
    """Headers are read by number, concurrently: each must name the block below as its parent."""
    validator = _validator(net, store, tmp_path, _spoke(proxy.url))
    _caught_up(validator)
    source, dest = net.lockbox.address, net.ledger.address
    signed_before = len(validator.db.signed_between(DEPOSIT_ROUTE, source, dest, 0, 10**6))
    _deposit(net, [11])
    _finalize(net.spoke)
    cursor = validator.db.cursor(DEPOSIT_ROUTE, source)
    assert cursor is not None
    proxy.lie, proxy.target = "parent", cursor.block + 2  # the range is [cursor + 1, cursor + 3]
    with pytest.raises(HeaderMismatchError, match=f"is not block {cursor.block + 1} "):
        validator.tick(DEPOSIT_ROUTE)
    assert validator.db.cursor(DEPOSIT_ROUTE, source) == cursor
    assert len(validator.db.signed_between(DEPOSIT_ROUTE, source, dest, 0, 10**6)) == signed_before
    proxy.lie = None
    assert _caught_up(validator) != []


def test_short_ticks_sign_what_one_long_tick_signs(net: Net, store: Store, tmp_path: Path) -> None:
    """At most max_blocks_per_tick blocks per tick, each range linked to the cursor the last one left."""
    _deposit(net, [12, 13])
    _deposit(net, [14])
    _finalize(net.spoke)
    url = f"http://127.0.0.1:{SPOKE_PORT}"
    whole = _validator(net, store, tmp_path, _spoke(url))
    short = _validator(net, store, tmp_path, _spoke(url), max_blocks=3)
    expected = whole.tick(DEPOSIT_ROUTE).signed
    signed: list[int] = []
    last = None
    for _ in range(1000):
        result = short.tick(DEPOSIT_ROUTE)
        if result.scanned_from is None or result.scanned_to is None:
            break
        assert result.scanned_to - result.scanned_from < 3
        assert last is None or result.scanned_from == last + 1
        last = result.scanned_to
        signed += result.signed
    assert expected and tuple(signed) == expected


class _FlakyApi:
    """A publisher refusing every signature while `down` (as an API answering 503), noting the rest."""

    def __init__(self) -> None:
        self.down = True
        self.published: list[int] = []

    def signature(self, route: object, nonce: int, head: bytes, validator: str, signature: bytes) -> None:
        if self.down:
            raise PublishError("/signatures", ["http://api: HTTP 503"])
        self.published.append(nonce)

    def halt(self, route: object, validator: str, reason: str) -> None:
        raise AssertionError(reason)

    def alarm(self, route: object, text: str) -> None:
        raise AssertionError(text)


def test_a_publishing_outage_does_not_end_the_tick_and_what_was_missed_goes_out_next(
    net: Net, tmp_path: Path
) -> None:
    _deposit(net, [15])
    _finalize(net.spoke)
    api = _FlakyApi()
    validator = Validator(
        "v0", VALIDATOR_KEYS[0], SignerDb(tmp_path / "flaky.sqlite"), api, net.deployment, net.clients,
        start_block=_deployed_at(net.spoke, net.lockbox.address), republish_every_s=3600.0,
    )
    first = validator.tick(DEPOSIT_ROUTE)
    assert first.signed and first.unpublished >= len(first.signed)
    assert first.scanned_to == first.finalized_block  # the whole range verified and recorded anyway
    cursor = validator.db.cursor(DEPOSIT_ROUTE, net.lockbox.address)
    assert cursor is not None and cursor.block == first.scanned_to
    api.down = False
    second = validator.tick(DEPOSIT_ROUTE)  # never published: sent at once, whatever republish_every_s
    assert second.signed == () and second.unpublished == 0 and set(first.signed) <= set(api.published)
    assert validator.tick(DEPOSIT_ROUTE).republished == 0  # published a moment ago: not again yet


class _Reentrant(_FlakyApi):
    """A publisher that tries to start a second tick of the same route while the first one signs."""

    validator: Validator
    refused = 0

    def signature(self, route: object, nonce: int, head: bytes, validator: str, signature: bytes) -> None:
        with pytest.raises(LockUnavailableError):
            self.validator.tick(DEPOSIT_ROUTE)
        self.refused += 1


def test_two_ticks_of_one_route_never_run_at_once_in_a_process(net: Net, tmp_path: Path) -> None:
    """Even when the Redis lease was lost (wiped) while its holder carried on."""
    _deposit(net, [16])
    _finalize(net.spoke)
    api = _Reentrant()
    validator = Validator(
        "v0", VALIDATOR_KEYS[0], SignerDb(tmp_path / "again.sqlite"), api, net.deployment, net.clients,
        start_block=_deployed_at(net.spoke, net.lockbox.address),
    )
    api.validator = validator
    assert validator.tick(DEPOSIT_ROUTE).signed and api.refused >= 1


def test_an_error_instead_of_the_chain_id_is_a_fault_not_another_chain(
    net: Net, store: Store, proxy: LyingRpc, tmp_path: Path
) -> None:
    """The first eth_chainId is answered -32603 (the soak's proxy does that): asked again, not refused."""
    _deposit(net, [17])
    _finalize(net.spoke)
    proxy.lie = "chain_id_error"
    spoke = _spoke(proxy.url, rpc_retries=1)
    validator = _validator(net, store, tmp_path, spoke)
    assert validator.tick(DEPOSIT_ROUTE).signed
    assert proxy.tampered == 1 and spoke.provider.refused == {}
