"""Deposit side of the Lockbox: custody, the deposit route's hash chain, listing and pausing."""

import pytest
from brownie import ZERO_ADDRESS
from lockbox_support import GUARDIAN_ROLE, UNIT, reverts_with, route

from checkpoints import NATIVE_TOKEN, deposit_leaf, extend

ZERO_HEAD = bytes(32)


def test_erc20_deposit_books_custody_and_appends_to_route(lockbox, usdc, alice, bob):
    tx = lockbox.deposit(usdc, 250 * UNIT, bob, {"from": alice})

    head = extend(ZERO_HEAD, deposit_leaf(1, alice, bob, usdc, 250 * UNIT))
    event = tx.events["Deposited"]
    assert event["nonce"] == 1
    assert event["depositor"] == alice
    assert event["account"] == bob  # the hub account credited may differ from the depositor
    assert event["token"] == usdc
    assert event["amount"] == 250 * UNIT
    assert bytes(event["head"]) == head
    assert route(lockbox.depositRoute()) == (1, head)
    assert lockbox.custodied(usdc) == 250 * UNIT
    assert usdc.balanceOf(lockbox) == 250 * UNIT


def test_native_deposit_books_msg_value(lockbox, native_listed, alice, bob):
    tx = lockbox.depositNative(bob, {"from": alice, "value": 3 * 10**18})

    event = tx.events["Deposited"]
    assert (event["nonce"], event["depositor"], event["account"]) == (1, alice, bob)
    assert event["token"] == NATIVE_TOKEN
    assert event["amount"] == 3 * 10**18
    assert lockbox.custodied(NATIVE_TOKEN) == 3 * 10**18
    assert lockbox.balance() == 3 * 10**18


def test_fee_on_transfer_deposit_is_credited_net_of_fee(lockbox, FeeOnTransferToken, admin, alice):
    token = FeeOnTransferToken.deploy("Fee", "FEE", 18, 150, {"from": admin})  # 1.5 %
    lockbox.listToken(token, {"from": admin})
    token.mint(alice, 10_000, {"from": alice})
    token.approve(lockbox, 10_000, {"from": alice})

    tx = lockbox.deposit(token, 10_000, alice, {"from": alice})

    assert tx.events["Deposited"]["amount"] == 9_850
    assert lockbox.custodied(token) == 9_850
    assert token.balanceOf(lockbox) == 9_850
    head = extend(ZERO_HEAD, deposit_leaf(1, alice, alice, token, 9_850))
    assert bytes(lockbox.depositRoute()[1]) == head


def test_no_return_token_deposit_succeeds(lockbox, NoReturnToken, admin, alice):
    token = NoReturnToken.deploy({"from": admin})
    lockbox.listToken(token, {"from": admin})
    token.mint(alice, 500, {"from": alice})
    token.approve(lockbox, 500, {"from": alice})

    lockbox.deposit(token, 500, alice, {"from": alice})

    assert lockbox.custodied(token) == 500


def test_route_nonce_and_head_match_python_recomputation(
    lockbox, usdc, native_listed, FeeOnTransferToken, admin, alice, bob
):
    fee_token = FeeOnTransferToken.deploy("Fee", "FEE", 18, 1_000, {"from": admin})  # 10 %
    lockbox.listToken(fee_token, {"from": admin})
    fee_token.mint(bob, 10**21, {"from": bob})
    fee_token.approve(lockbox, 10**21, {"from": bob})

    steps = [
        (alice, alice, usdc, 1, lambda: lockbox.deposit(usdc, 1, alice, {"from": alice})),
        (bob, alice, NATIVE_TOKEN, 7, lambda: lockbox.depositNative(alice, {"from": bob, "value": 7})),
        (bob, bob, fee_token, 900, lambda: lockbox.deposit(fee_token, 1_000, bob, {"from": bob})),
        (alice, bob, usdc, 10**11, lambda: lockbox.deposit(usdc, 10**11, bob, {"from": alice})),
    ]
    head = ZERO_HEAD
    for nonce, (depositor, account, token, credited, send) in enumerate(steps, start=1):
        tx = send()
        head = extend(head, deposit_leaf(nonce, depositor, account, token, credited))
        assert tx.events["Deposited"]["nonce"] == nonce
        assert bytes(tx.events["Deposited"]["head"]) == head
    assert route(lockbox.depositRoute()) == (len(steps), head)


def test_deposit_rejects_zero_amount(lockbox, usdc, native_listed, alice):
    with reverts_with("DepositAmountZero"):
        lockbox.deposit(usdc, 0, alice, {"from": alice})
    with reverts_with("DepositAmountZero"):
        lockbox.depositNative(alice, {"from": alice, "value": 0})


def test_deposit_rejects_zero_account(lockbox, usdc, native_listed, alice):
    with reverts_with("DepositAccountZero"):
        lockbox.deposit(usdc, 1, ZERO_ADDRESS, {"from": alice})
    with reverts_with("DepositAccountZero"):
        lockbox.depositNative(ZERO_ADDRESS, {"from": alice, "value": 1})


def test_deposit_rejects_unlisted_and_delisted_tokens(lockbox, usdc, MockERC20, admin, alice):
    other = MockERC20.deploy("Other", "OTH", 18, {"from": admin})
    with reverts_with("TokenNotListed", other.address):
        lockbox.deposit(other, 1, alice, {"from": alice})
    with reverts_with("TokenNotListed", NATIVE_TOKEN):
        lockbox.depositNative(alice, {"from": alice, "value": 1})

    lockbox.delistToken(usdc, {"from": admin})
    with reverts_with("TokenNotListed", usdc.address):
        lockbox.deposit(usdc, 1, alice, {"from": alice})


def test_deposit_rejects_native_token_through_erc20_path(lockbox, native_listed, alice):
    with reverts_with("DepositTokenIsNative"):
        lockbox.deposit(NATIVE_TOKEN, 1, alice, {"from": alice})


def test_deposit_rejects_when_nothing_arrives(lockbox, FeeOnTransferToken, admin, alice):
    token = FeeOnTransferToken.deploy("Fee", "FEE", 18, 10_000, {"from": admin})  # burns all
    lockbox.listToken(token, {"from": admin})
    token.mint(alice, 100, {"from": alice})
    token.approve(lockbox, 100, {"from": alice})
    with reverts_with("DepositNothingReceived", token.address):
        lockbox.deposit(token, 100, alice, {"from": alice})


def test_deposit_rejects_missing_allowance(lockbox, usdc, bob, accounts):
    poor = accounts[5]
    with reverts_with("ERC20InsufficientAllowance"):
        lockbox.deposit(usdc, 1, poor, {"from": poor})
    assert lockbox.depositRoute()[0] == 0


def test_plain_native_transfer_is_refused(lockbox, native_listed, alice):
    with pytest.raises(Exception):
        alice.transfer(lockbox, 1)
    assert lockbox.balance() == 0


def test_guardian_pauses_and_unpauses_deposits(lockbox, usdc, native_listed, guardian, alice):
    tx = lockbox.pauseDeposits({"from": guardian})
    assert tx.events["DepositsPauseSet"] == {"guardian": guardian, "paused": True}
    assert lockbox.paused() == (True, False)
    with reverts_with("DepositsPaused"):
        lockbox.deposit(usdc, 1, alice, {"from": alice})
    with reverts_with("DepositsPaused"):
        lockbox.depositNative(alice, {"from": alice, "value": 1})

    tx = lockbox.unpauseDeposits({"from": guardian})
    assert tx.events["DepositsPauseSet"] == {"guardian": guardian, "paused": False}
    lockbox.deposit(usdc, 1, alice, {"from": alice})
    assert lockbox.depositRoute()[0] == 1


@pytest.mark.parametrize("fn", ["pauseDeposits", "unpauseDeposits", "pauseReleases", "unpauseReleases"])
def test_pause_functions_need_guardian_role(lockbox, admin, alice, fn):
    for caller in (alice, admin):  # the admin / governor is not a guardian
        with reverts_with("AccessControlUnauthorizedAccount", caller.address, GUARDIAN_ROLE):
            getattr(lockbox, fn)({"from": caller})


def test_listing_emits_events_and_rejects_bad_input(lockbox, usdc, MockERC20, admin, alice):
    token = MockERC20.deploy("T", "T", 18, {"from": admin})
    assert lockbox.listToken(token, {"from": admin}).events["TokenListed"]["token"] == token
    assert lockbox.isListed(token)
    with reverts_with("TokenAlreadyListed", token.address):
        lockbox.listToken(token, {"from": admin})
    with reverts_with("TokenInvalid", alice.address):  # no code
        lockbox.listToken(alice, {"from": admin})
    assert lockbox.delistToken(token, {"from": admin}).events["TokenDelisted"]["token"] == token
    assert not lockbox.isListed(token)
    with reverts_with("TokenNotListed", token.address):
        lockbox.delistToken(token, {"from": admin})


def test_constructor_rejects_zero_config(Lockbox, admin, ledger):
    with reverts_with("LockboxConfigInvalid"):
        Lockbox.deploy(0, ledger, admin, {"from": admin})
    with reverts_with("LockboxConfigInvalid"):
        Lockbox.deploy(1, ZERO_ADDRESS, admin, {"from": admin})
    with reverts_with("LockboxConfigInvalid"):
        Lockbox.deploy(1, ledger, ZERO_ADDRESS, {"from": admin})
