"""Gas of deposit processing on anvil (deterministic): 3-of-5 quorum, one signature blob,
21k intrinsic and calldata included, route and token slots already in use (steady state).

Budgets from the brief, all met: <= 75,000 gas for a batch of one deposit to an existing balance
(74,451: was 80,748 before the validator set moved into a data contract and the signature loop
into assembly, then 73,324 before the check moved into its own QuorumSet contract, docs/decisions.md
D-verifier), <= 12,000 gas per message at a batch of 100 to existing balances (10,857) and
<= 30,000 to new balances (27,957). Where the 74.5k go: intrinsic + calldata 27.3k; quorum ~17.7k
(set slot 2.1k, cold call to the QuorumSet 2.6k, 3 ecrecover 9.3k, digest, ABI and loop ~3.7k);
route 10k (two slots read + written); credit 10k (token slot + balance); logs 3.6k. The ceilings
pin today's figures (plus a little slack) so a regression fails loudly; bench/gas.py reports the
full table."""

from ledger_support import SPOKE_A, USDC, USDC_A, USDC_SCALE, fake_address

BATCH = 100
AMOUNT = 1_000 * 10**6  # 1000 USDC in token units

BUDGET_SINGLE_EXISTING = 75_000
BUDGET_BATCH_EXISTING = 12_000
BUDGET_BATCH_NEW = 30_000
CEILING_SINGLE_EXISTING = 74_600
CEILING_SINGLE_NEW = 91_700
CEILING_BATCH_EXISTING = 10_900
CEILING_BATCH_NEW = 28_000


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
        f" (budget {BUDGET_SINGLE_EXISTING}); batch of {BATCH} -> new {batch_new:.0f}/msg, existing {batch_existing:.0f}/msg"
    )
    assert ledger.balanceOf(many[7], USDC) == 2 * (AMOUNT + 7) * USDC_SCALE
    assert single_existing <= BUDGET_SINGLE_EXISTING
    assert batch_existing <= BUDGET_BATCH_EXISTING
    assert batch_new <= BUDGET_BATCH_NEW
    assert single_existing <= CEILING_SINGLE_EXISTING
    assert single_new <= CEILING_SINGLE_NEW
    assert batch_existing <= CEILING_BATCH_EXISTING
    assert batch_new <= CEILING_BATCH_NEW
