"""Gas of deposit processing on anvil (deterministic): 3-of-5 quorum, one signature blob,
21k intrinsic and calldata included, route and token slots already in use (steady state)."""

from conftest import SPOKE_A, USDC_A, fake_address

BUDGET_SINGLE = 75_000
BUDGET_BATCH_EXISTING = 12_000
BUDGET_BATCH_NEW = 30_000
BATCH = 100
AMOUNT = 1_000 * 10**6


def _batch(accounts):
    return [(a, a, USDC_A, AMOUNT + i) for i, a in enumerate(accounts)]


def test_gas_figures(ledger, deposit):
    deposit(SPOKE_A, _batch([fake_address("warm-up")]))  # route head, liquidity, total now non-zero

    single = fake_address("single")
    single_new = deposit(SPOKE_A, _batch([single])).gas_used
    single_existing = deposit(SPOKE_A, _batch([single])).gas_used

    many = [fake_address(f"batch-{i}") for i in range(BATCH)]
    batch_new = deposit(SPOKE_A, _batch(many)).gas_used / BATCH
    batch_existing = deposit(SPOKE_A, _batch(many)).gas_used / BATCH

    print(
        f"\nGAS single new={single_new} single existing={single_existing} "
        f"batch{BATCH} new/msg={batch_new:.0f} batch{BATCH} existing/msg={batch_existing:.0f}"
    )
    assert ledger.balanceOf(many[0], 1) == 2 * AMOUNT * 10**12
    assert single_new <= BUDGET_SINGLE
    assert single_existing <= BUDGET_SINGLE
    assert batch_new <= BUDGET_BATCH_NEW
    assert batch_existing <= BUDGET_BATCH_EXISTING
