"""Asset registry and spoke registration: governance input is validated, views are exact."""

from ledger_support import (
    SPOKE_A,
    SPOKE_B,
    USDC,
    USDC_A,
    USDC_B,
    USDC_SCALE,
    WETH,
    WETH_A,
    assert_reverts,
    error,
    fake_address,
    plain,
)

ZERO = "0x0000000000000000000000000000000000000000"
DAI = 3
DAI_A = fake_address("dai-on-spoke-a")


def test_views_after_setup(ledger):
    assert plain(ledger.listedAssets()) == [USDC, WETH]
    assert plain(ledger.assetInfo(USDC)) == ["USDC", 18, 10_000, 0, 0]
    assert plain(ledger.assetInfo(WETH)) == ["WETH", 18, 8_000, 0, 0]
    assert plain(ledger.tokenInfo(SPOKE_A, USDC_A)) == [USDC, USDC_SCALE, True]
    assert plain(ledger.tokenInfo(SPOKE_B, USDC_B)) == [USDC, USDC_SCALE, True]
    assert plain(ledger.tokenInfo(SPOKE_A, WETH_A)) == [WETH, 1, True]
    assert plain(ledger.tokenInfo(SPOKE_B, WETH_A)) == [0, 0, False]
    assert ledger.tokenOf(SPOKE_A, USDC) == USDC_A
    assert ledger.tokenOf(SPOKE_B, WETH) == ZERO


def test_list_asset_and_token_emit_events(ledger, gov):
    tx = ledger.listAsset(DAI, "DAI", 18, {"from": gov})
    assert tx.events["AssetListed"][0] == {"assetId": DAI, "symbol": "DAI", "decimals": 18}
    tx = ledger.listToken(SPOKE_A, DAI_A, DAI, 18, {"from": gov})
    assert tx.events["TokenListed"][0] == {
        "chainId": SPOKE_A,
        "token": DAI_A,
        "assetId": DAI,
        "tokenDecimals": 18,
        "scale": 1,
    }
    tx = ledger.setCollateralParams(DAI, 9_500, 10**24, {"from": gov})
    assert tx.events["CollateralParamsSet"][0] == {"assetId": DAI, "weightBps": 9_500, "supplyCap": 10**24}
    assert plain(ledger.assetInfo(DAI)) == ["DAI", 18, 9_500, 10**24, 0]


def test_list_asset_rejects_bad_input(ledger, gov):
    assert_reverts(error("AssetIdInvalid(uint32)", 0), ledger.listAsset, 0, "Z", 18, sender=gov)
    assert_reverts(error("AssetAlreadyListed(uint32)", USDC), ledger.listAsset, USDC, "USDC", 18, sender=gov)
    assert_reverts(error("AssetDecimalsInvalid(uint8)", 37), ledger.listAsset, DAI, "DAI", 37, sender=gov)


def test_list_token_rejects_bad_input(ledger, gov):
    ledger.listAsset(DAI, "DAI", 18, {"from": gov})
    assert_reverts(error("AssetUnknown(uint32)", 99), ledger.listToken, SPOKE_A, DAI_A, 99, 18, sender=gov)
    assert_reverts(
        error("TokenDecimalsInvalid(uint8,uint8)", 19, 18), ledger.listToken, SPOKE_A, DAI_A, DAI, 19, sender=gov
    )
    assert_reverts(error("TokenZero()"), ledger.listToken, SPOKE_A, ZERO, DAI, 18, sender=gov)
    assert_reverts(
        error("TokenAlreadyListed(uint64,address)", SPOKE_A, USDC_A), ledger.listToken, SPOKE_A, USDC_A, DAI, 6, sender=gov
    )
    assert_reverts(
        error("AssetAlreadyOnSpoke(uint32,uint64,address)", USDC, SPOKE_A, USDC_A),
        ledger.listToken,
        SPOKE_A,
        DAI_A,
        USDC,
        6,
        sender=gov,
    )


def test_scale_limited_to_64_bits(ledger, gov):
    ledger.listAsset(DAI, "BIG", 36, {"from": gov})
    assert_reverts(
        error("TokenDecimalsInvalid(uint8,uint8)", 16, 36), ledger.listToken, SPOKE_A, DAI_A, DAI, 16, sender=gov
    )
    ledger.listToken(SPOKE_A, DAI_A, DAI, 17, {"from": gov})
    assert ledger.tokenInfo(SPOKE_A, DAI_A)[1] == 10**19


def test_collateral_params_rejects_bad_input(ledger, gov):
    assert_reverts(
        error("CollateralParamsInvalid(uint32,uint16,uint256)", USDC, 10_001, 0),
        ledger.setCollateralParams,
        USDC,
        10_001,
        0,
        sender=gov,
    )
    assert_reverts(
        error("CollateralParamsInvalid(uint32,uint16,uint256)", USDC, 1, 2**128),
        ledger.setCollateralParams,
        USDC,
        1,
        2**128,
        sender=gov,
    )
    assert_reverts(error("AssetUnknown(uint32)", 42), ledger.setCollateralParams, 42, 1, 1, sender=gov)


def test_set_token_listed_rejects_unknown_token(ledger, gov):
    assert_reverts(
        error("TokenUnknown(uint64,address)", SPOKE_B, WETH_A), ledger.setTokenListed, SPOKE_B, WETH_A, False, sender=gov
    )


def test_register_spoke_rejects_bad_input(ledger, gov, stranger):
    assert_reverts(error("SpokeLockboxZero()"), ledger.registerSpoke, 31400, ZERO, sender=gov)
    assert_reverts(error("SpokeAlreadyRegistered(uint64)", SPOKE_A), ledger.registerSpoke, SPOKE_A, stranger, sender=gov)


def test_register_spoke_emits_and_lists(ledger, gov, stranger):
    tx = ledger.registerSpoke(31400, stranger, {"from": gov})
    assert tx.events["SpokeRegistered"][0] == {"chainId": 31400, "lockbox": stranger}
    assert plain(ledger.spokes()) == [SPOKE_A, SPOKE_B, 31400]
    assert plain(ledger.depositRoute(31400)) == [0, "0x" + bytes(32).hex()]
    assert plain(ledger.withdrawalRoute(31400)) == [0, "0x" + bytes(32).hex()]


def test_token_listed_later_inherits_cap(ledger, deposit, gov, alice):
    from ledger_support import ONE

    ledger.listAsset(DAI, "DAI", 18, {"from": gov})
    ledger.setCollateralParams(DAI, 10_000, 10 * ONE, {"from": gov})
    ledger.listToken(SPOKE_A, DAI_A, DAI, 18, {"from": gov})
    deposit(SPOKE_A, [(alice, alice, DAI_A, 8 * ONE), (alice, alice, DAI_A, 3 * ONE)])
    assert ledger.balanceOf(alice, DAI) == 8 * ONE
    assert ledger.claimOf(alice, SPOKE_A, DAI_A) == 3 * ONE
