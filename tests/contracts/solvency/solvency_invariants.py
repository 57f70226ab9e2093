"""design.md's solvency invariants, as pure checks over one read of the chain (`read_view`) and
the shadow model: the state machine runs every one of them after every step."""

from solvency_model import ShadowModel
from solvency_support import ASSETS, TOKEN_SPECS


def check_asset_solvency(view: dict, model: ShadowModel) -> None:
    """Per asset (ledger units): what the lockboxes hold >= what their books say they hold >=
    every account's balance + every withdrawal debited and not yet released."""
    for a in ASSETS:
        mine = [i for i, spec in enumerate(TOKEN_SPECS) if spec.asset == a]
        held = sum(view["tokens"][i]["held"] * TOKEN_SPECS[i].scale for i in mine)
        booked = sum(view["tokens"][i]["custodied"] * TOKEN_SPECS[i].scale for i in mine)
        owed = sum(model.outstanding(i, view["tokens"][i]["owed"]) * TOKEN_SPECS[i].scale for i in mine)
        balances = sum(view["balances"][(h, a)] for h in model.holders)
        assert held >= booked >= balances + owed, (a, held, booked, balances, owed)
        assert balances == view["totals"][a], "the ledger's total is not the sum of the known holders"


def check_spoke_custody(view: dict, model: ShadowModel) -> None:
    """Per (spoke, token): the lockbox's balance >= its books >= withdrawals queued to it and not
    yet released (undelivered + parked); and the ledger's queued total is fully accounted:
    released + parked + undelivered."""
    for i, t in enumerate(view["tokens"]):
        outstanding = model.outstanding(i, t["owed"])
        assert t["held"] >= t["custodied"] >= outstanding, (TOKEN_SPECS[i].label, t, outstanding)
        assert t["queued_total"] == model.books[i].released + outstanding, (TOKEN_SPECS[i].label, t)


def check_liquidity_backed(view: dict, model: ShadowModel) -> None:
    """Per (spoke, token): the ledger's liquidity figure never exceeds what the lockbox holds
    net of outstanding withdrawals; exactly, custody = liquidity + outstanding withdrawals +
    deposits not yet delivered + claims."""
    for i, t in enumerate(view["tokens"]):
        outstanding = model.outstanding(i, t["owed"])
        label = TOKEN_SPECS[i].label
        assert t["liquidity"] + outstanding <= t["custodied"] <= t["held"], (label, t, outstanding)
        undelivered = model.undelivered_deposits(i)
        assert t["custodied"] == t["liquidity"] + outstanding + undelivered + t["claims"], (label, t, undelivered)


def check_shadow_model(view: dict, model: ShadowModel) -> None:
    """The chain equals the model: every balance, liquidity, custody and owed figure, every
    parked release, and both routes' tips on both sides of both spokes."""
    assert view["balances"] == model.balances
    for i, t in enumerate(view["tokens"]):
        book, token = model.books[i], model.tokens[i]
        parked = sum(p.amount for state in model.spokes for p in state.parked.values() if p.token == token)
        assert (t["liquidity"], t["custodied"], t["owed"], t["claims"]) == (book.liquidity, book.custodied, parked, 0)
    expected = {(spoke, n): p.as_tuple() for spoke, state in enumerate(model.spokes) for n, p in state.parked.items()}
    assert view["parked"] == expected
    for spoke, state in enumerate(model.spokes):
        routes = {k[1]: v for k, v in view["routes"].items() if k[0] == spoke}
        assert routes["lockbox_deposit"] == state.deposit_tip
        assert routes["ledger_deposit"][0] == state.deposit_tip[0] - len(state.deposits)
        assert routes["ledger_withdrawal"] == state.withdrawal_tip
        assert routes["lockbox_withdrawal"][0] == state.withdrawal_tip[0] - len(state.withdrawals)
