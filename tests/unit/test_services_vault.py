"""Vault refusals read as sentences with the LP's figures (relayer.services.vault.VaultRefusal), and
share amounts parse exactly; the chain-backed paths run in tests/e2e/test_6_margin.py."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from relayer.chain.abi import DecodedError
from relayer.errors import ActionError
from relayer.services.vault import VaultRefusal, parse_shares

NOW = 1_800_000_000


def refusal() -> VaultRefusal:
    chain: Any = SimpleNamespace(client=SimpleNamespace(get_block=lambda _: {"timestamp": NOW}))
    return VaultRefusal(chain)


def say(name: str, **args: Any) -> str:
    return refusal()(DecodedError(name=name, args=args))


def test_an_early_execution_says_how_long_it_still_waits_and_what_to_run() -> None:
    text = say("VaultRedemptionNotReady", id=3, readyAt=NOW + 7)
    assert text.startswith("redemption 3 is not ready yet: it can be executed in 7 s (from 2027-01-15 08:00:07 UTC")
    assert "`xmargin vault execute 3` again" in text
    assert "in 2 min" in say("VaultRedemptionNotReady", id=1, readyAt=NOW + 150)
    assert "in 24.0 h" in say("VaultRedemptionNotReady", id=1, readyAt=NOW + 86_400)


def test_amounts_in_refusals_are_in_shares_and_usdc() -> None:
    assert say("VaultSharesExceedBalance", owner="0x" + "11" * 20, balance=15 * 10**17, shares=2 * 10**18) == (
        "you hold 1.5 vault shares, fewer than the 2 you asked to redeem")
    assert say("CollateralTransferExceedsBalance", **{"from": "0x" + "11" * 20}, assetId=1, balance=10**20,
               amount=10**21).startswith("you hold 100 USDC on the hub, the deposit needs 1000")
    assert "holds only 5 USDC, less than the 7.5 USDC" in say("VaultLiquidityInsufficient", available=5 * 10**18,
                                                            needed=75 * 10**17)
    assert say("VaultInsolvent", equity=-12 * 10**18).startswith("the vault's equity is -$12.00")


def test_other_vault_errors_fall_back_to_the_catalog() -> None:
    text = say("VaultParamsInvalid")
    assert text.startswith("vault refused: invalid vault parameters")


def test_shares_parse_exactly_and_refuse_nonsense() -> None:
    assert parse_shares("1.5") == 15 * 10**17
    assert parse_shares("0.000000000000000001") == 1
    for bad in ("0", "-1", "abc", "1e-19"):
        with pytest.raises(ActionError):
            parse_shares(bad)
