"""Gas of deposit processing on anvil (deterministic): 3-of-5 quorum, one signature blob,
21k intrinsic and calldata included, route and token slots already in use (steady state).

Budgets from the brief: <= 12,000 gas per message at a batch of 100 to existing balances and
<= 30,000 to new balances (both met). A batch of one was targeted at <= 75,000; it measures
80,748 to an existing balance, and cannot reach 75k with the shared QuorumVerifier as it is:
intrinsic + calldata 27.3k, quorum 22.7k (4 cold SLOADs 8.4k, 3 ecrecover 9.3k, ~5k code),
route 10k (2 slots read + written), credit 10k (token slot + balance), logs 3.6k. The
ceilings below pin today's figures so a regression fails loudly."""

from ledger_support import SPOKE_A, USDC, USDC_A, USDC_SCALE, fake_address

BATCH = 100
AMOUNT = 1_000 * 10**6  # 1000 USDC in token units

BUDGET_BATCH_EXISTING = 12_000
BUDGET_BATCH_NEW = 30_000
TARGET_SINGLE = 75_000  # brief's target; not reachable without QuorumVerifier changes (see above)
CEILING_SINGLE_EXISTING = 81_000
CEILING_SINGLE_NEW = 98_000


def _batch(holders):
    return [(h, h, USDC_A, AMOUNT + i) for i, h in enumerate(holders)]


def test_gas_figures(ledger, deposit):
    deposit(SPOKE_A, _batch([fake_address("warm-up")]))  # route head and liquidity now non-zero

    single = fake_address("single")
    single_new = deposit(SPOKE_A, _batch([single])).gas_used
    single_existing = deposit(SPOKE_A, _batch([single])).gas_used

    many = [fake_address(f"batch-{i}") for i in range(BATCH)]
    batch_new = deposit(SPOKE_A, _batch(many)).gas_used / BATCH
    batch_existing = deposit(SPOKE_A, _batch(many)).gas_used / BATCH

    print(
        f"\nGAS per credited deposit: batch of 1 -> new balance {single_new}, existing {single_existing}"
        f" (target {TARGET_SINGLE}); batch of {BATCH} -> new {batch_new:.0f}/msg, existing {batch_existing:.0f}/msg"
    )
    assert ledger.balanceOf(many[7], USDC) == 2 * (AMOUNT + 7) * USDC_SCALE
    assert batch_existing <= BUDGET_BATCH_EXISTING
    assert batch_new <= BUDGET_BATCH_NEW
    assert single_existing <= CEILING_SINGLE_EXISTING
    assert single_new <= CEILING_SINGLE_NEW
