"""relayer.proofs.hashchain and relayer.types, cross-checked against the independent reference."""

from __future__ import annotations

import random

import pytest
from eth_utils import to_checksum_address
from pydantic import ValidationError

from relayer.errors import HeadMismatchError, InvalidRouteError, NonceGapError, XmarginError
from relayer.proofs import hashchain
from relayer.proofs.hashchain import (
    ZERO_HEAD,
    DepositMessage,
    RouteMessage,
    WithdrawalMessage,
    check_chain,
    deposit_leaf,
    extend,
    fold,
    withdrawal_leaf,
)
from relayer.types import NATIVE_TOKEN, RouteId, RouteKind

RNG_SEED = 20240611


def _address(rng: random.Random) -> str:
    return "0x" + rng.randbytes(20).hex()


def _deposits(rng: random.Random, count: int) -> list[DepositMessage]:
    return [
        DepositMessage(depositor=_address(rng), account=_address(rng), token=NATIVE_TOKEN, amount=rng.getrandbits(256))
        for _ in range(count)
    ]


def _withdrawals(rng: random.Random, count: int) -> list[WithdrawalMessage]:
    return [
        WithdrawalMessage(
            account=_address(rng), recipient=_address(rng), token=_address(rng), amount=rng.getrandbits(96)
        )
        for _ in range(count)
    ]


def test_typehashes_match_reference(ref):
    assert hashchain.DEPOSIT_TYPEHASH == ref.DEPOSIT_TYPEHASH
    assert hashchain.WITHDRAWAL_TYPEHASH == ref.WITHDRAWAL_TYPEHASH
    assert NATIVE_TOKEN == ref.NATIVE_TOKEN


@pytest.mark.parametrize("nonce,amount", [(1, 0), (2**64 - 1, 2**256 - 1), (100, 10**18)])
def test_leaves_match_reference_on_edge_values(ref, nonce, amount):
    a, b, c = (f"0x{i:040x}" for i in (1, 2**160 - 1, 0xABC))
    assert deposit_leaf(nonce, a, b, c, amount) == ref.deposit_leaf(nonce, a, b, c, amount)
    assert withdrawal_leaf(nonce, a, b, c, amount) == ref.withdrawal_leaf(nonce, a, b, c, amount)
    assert deposit_leaf(nonce, a, b, c, amount) != withdrawal_leaf(nonce, a, b, c, amount)


def test_fold_matches_reference_on_random_batches(ref):
    rng = random.Random(RNG_SEED)
    head = rng.randbytes(32)
    for processed in (0, 7, 2**40):
        deposits = _deposits(rng, 25)
        withdrawals = _withdrawals(rng, 25)
        assert fold(head, processed + 1, deposits) == ref.fold(
            head, processed, [m.as_tuple() for m in deposits], ref.deposit_leaf
        )
        assert fold(head, processed + 1, withdrawals) == ref.fold(
            head, processed, [m.as_tuple() for m in withdrawals], ref.withdrawal_leaf
        )


def test_fold_pinned_vector():
    """Regression vector: first two deposits of a fresh route (computed once with the reference)."""
    one, two = "0x" + "11" * 20, "0x" + "22" * 20
    messages = [
        DepositMessage(depositor=one, account=two, token=NATIVE_TOKEN, amount=10**18),
        DepositMessage(depositor=two, account=two, token=one, amount=5),
    ]
    assert fold(ZERO_HEAD, 1, messages).hex() == PINNED_HEAD


PINNED_HEAD = "504a61a63eebed722e362817c67d6b36b81e7702e1aaf0b5b179120ef7f91459"


def test_fold_of_nothing_keeps_head_and_order_matters():
    rng = random.Random(RNG_SEED + 1)
    head = rng.randbytes(32)
    a, b = _deposits(rng, 2)
    assert fold(head, 5, []) == head
    assert fold(head, 1, [a, b]) != fold(head, 1, [b, a])
    assert fold(head, 1, [a, b]) != fold(head, 2, [a, b])


def test_extend_rejects_wrong_lengths():
    with pytest.raises(ValueError):
        extend(b"\x00" * 31, b"\x00" * 32)
    with pytest.raises(ValueError):
        extend(b"\x00" * 32, b"\x00" * 33)


def test_message_models_checksum_and_bound_amounts():
    lower = "0x" + "ab" * 20
    msg = DepositMessage(depositor=lower, account=lower, token="0x" + "AB" * 20, amount=1)
    assert msg.depositor == msg.token == to_checksum_address(lower) != lower
    assert msg.as_tuple() == (msg.depositor, msg.account, msg.token, 1)
    with pytest.raises(ValidationError):
        DepositMessage(depositor=lower, account=lower, token=lower, amount=2**256)
    with pytest.raises(ValidationError):
        WithdrawalMessage(account=lower, recipient="0x1234", token=lower, amount=1)
    with pytest.raises(ValidationError):
        WithdrawalMessage(account=lower, recipient=lower, token=lower, amount=-1)


def _route_messages(messages, processed: int, head: bytes) -> list[RouteMessage]:
    out = []
    for k, message in enumerate(messages):
        nonce = processed + 1 + k
        head = extend(head, message.leaf(nonce))
        out.append(
            RouteMessage(
                nonce=nonce, message=message, head=head, block_number=10 + k, block_hash=b"\x01" * 32,
                tx_hash=b"\x02" * 32, tx_index=k, log_index=0,
            )
        )
    return out


def test_check_chain_accepts_consistent_events():
    rng = random.Random(RNG_SEED + 2)
    start = rng.randbytes(32)
    items = _route_messages(_withdrawals(rng, 5), 41, start)
    assert check_chain(start, 41, items) == items[-1].head


def test_check_chain_rejects_tampered_message_and_gap():
    rng = random.Random(RNG_SEED + 3)
    items = _route_messages(_deposits(rng, 4), 0, ZERO_HEAD)
    forged = items[2].model_copy(update={"message": items[2].message.model_copy(update={"amount": 1})})
    with pytest.raises(HeadMismatchError) as info:
        check_chain(ZERO_HEAD, 0, [items[0], items[1], forged, items[3]])
    assert info.value.nonce == 3 and isinstance(info.value, XmarginError)
    with pytest.raises(NonceGapError):
        check_chain(ZERO_HEAD, 0, [items[0], items[2]])
    with pytest.raises(NonceGapError):
        check_chain(ZERO_HEAD, 1, items)


def test_route_id_round_trips_and_is_hashable():
    route = RouteId(kind=RouteKind.DEPOSIT, source_chain_id=31338, dest_chain_id=31337)
    assert str(route) == "deposit:31338->31337"
    assert RouteId.parse("deposit:31338->31337") == route
    assert {route: 1}[RouteId.parse(str(route))] == 1
    back = RouteId.parse("withdrawal:31337->31339")
    assert back.kind is RouteKind.WITHDRAWAL and back.spoke_chain_id == 31339 and route.spoke_chain_id == 31338


@pytest.mark.parametrize(
    "text", ["deposit:1->1", "refund:1->2", "deposit:1-2", "deposit:0->2", f"deposit:1->{2**64}", ""]
)
def test_route_id_parse_rejects_malformed(text):
    with pytest.raises(InvalidRouteError):
        RouteId.parse(text)


def test_route_id_rejects_same_chain_on_construction():
    with pytest.raises(ValidationError):
        RouteId(kind=RouteKind.DEPOSIT, source_chain_id=5, dest_chain_id=5)


def test_recovery_marker_is_the_reserved_address_and_marks_only_recovery_messages() -> None:
    from eth_utils import keccak

    assert hashchain.RECOVERY_MARKER.lower() == "0x" + keccak(text="xmargin.release-recovery")[-20:].hex()
    account, recipient = "0x" + "11" * 20, "0x" + "22" * 20
    redirect = WithdrawalMessage(account=account, recipient=recipient, token=hashchain.RECOVERY_MARKER, amount=7)
    refund = WithdrawalMessage(
        account=account, recipient=hashchain.ZERO_ADDRESS, token=hashchain.RECOVERY_MARKER, amount=7
    )
    plain = WithdrawalMessage(account=account, recipient=recipient, token=NATIVE_TOKEN, amount=7)
    assert (redirect.is_recovery, redirect.is_refund) == (True, False)
    assert (refund.is_recovery, refund.is_refund) == (True, True)
    assert (plain.is_recovery, plain.is_refund) == (False, False)
    # the same leaf as any withdrawal: validators and submitters carry it unchanged
    assert redirect.leaf(3) == withdrawal_leaf(3, account, recipient, hashchain.RECOVERY_MARKER, 7)
