"""The explorer index's LogTail over a scripted chain: scans only new blocks, in bounded ranges,
keeps unfinal blocks out of the index, and rewinds after a reorg deeper than the finality policy."""

from __future__ import annotations

import itertools

import pytest

from relayer.errors import ChainCallError
from relayer.services.explorer_index import MAX_CHECKPOINTS, LogTail

Item = tuple[int, str]
_ids = itertools.count()


class ScriptedChain:
    """Blocks with hashes and items (what a contract's logs would give), a depth finality policy,
    and a record of every scanned range."""

    def __init__(self, confirmations: int = 2) -> None:
        self.confirmations = confirmations
        self.blocks: list[tuple[bytes, list[str]]] = [(b"genesis", [])]
        self.ranges: list[tuple[int, int]] = []

    def mine(self, *items: str, empty: int = 0) -> None:
        self.blocks.append((f"b{next(_ids)}".encode(), list(items)))
        for _ in range(empty):
            self.blocks.append((f"b{next(_ids)}".encode(), []))

    def reorg(self, depth: int, *replacement: list[str]) -> None:
        """Replace the top `depth` blocks by `replacement` (new hashes)."""
        del self.blocks[len(self.blocks) - depth:]
        for items in replacement:
            self.mine(*items)

    def block_number(self) -> int:
        return len(self.blocks) - 1

    def finalized_block(self) -> int:
        return max(0, self.block_number() - self.confirmations)

    def get_block(self, number: int) -> dict[str, bytes]:
        if number > self.block_number():
            raise ChainCallError("scripted", "eth_getBlock", "block not found")
        return {"hash": self.blocks[number][0]}

    def scan(self, first: int, last: int) -> list[Item]:
        self.ranges.append((first, last))
        return [(n, item) for n in range(first, last + 1) for item in self.blocks[n][1]]

    def everything(self) -> list[Item]:
        return [(n, item) for n, (_, items) in enumerate(self.blocks) for item in items]


def _tail(chain: ScriptedChain, start: int = 0) -> LogTail[Item]:
    return LogTail(chain, chain.scan, start, lambda item: item[0])  # type: ignore[arg-type]


def _seen(tail: LogTail[Item]) -> list[Item]:
    found = tail.refresh()
    return tail.final + found.tail


def test_a_second_refresh_scans_only_the_blocks_since_the_first() -> None:
    chain = ScriptedChain()
    chain.mine("d1", "d2", empty=3)
    chain.mine("d3")
    tail = _tail(chain)
    assert _seen(tail) == chain.everything()
    assert chain.ranges == [(0, 3), (4, 5)]  # final blocks once, the two unfinal ones read afresh
    chain.ranges.clear()
    chain.mine("d4", empty=1)
    assert _seen(tail) == chain.everything()
    assert chain.ranges == [(4, 5), (6, 7)]
    assert min(first for first, _ in chain.ranges) > 0  # never from block 0 again


def test_unfinal_blocks_are_never_kept_and_a_shallow_reorg_needs_no_rewind() -> None:
    chain = ScriptedChain(confirmations=3)
    chain.mine("a", empty=5)
    chain.mine("b")
    tail = _tail(chain)
    assert _seen(tail) == chain.everything()
    assert all(block <= tail.cursor for block, _ in tail.final)
    chain.reorg(2, ["b2"], [], ["c"])  # within the unfinal blocks: b is gone, b2 and c arrived
    found = tail.refresh()
    assert not found.rewound
    assert tail.final + found.tail == chain.everything()
    assert ("b" not in {item for _, item in tail.final + found.tail})


def test_a_reorg_below_the_cursor_rewinds_to_a_checkpoint_still_on_the_chain() -> None:
    chain = ScriptedChain(confirmations=1)
    chain.mine("a", empty=2)
    tail = _tail(chain)
    _seen(tail)
    chain.mine("b", empty=2)
    _seen(tail)
    chain.mine("c", empty=2)
    _seen(tail)
    kept = tail.checkpoints[0]
    chain.reorg(6, ["b'"], [], ["c'"], [], [])  # deeper than the policy: b and c are replaced
    chain.ranges.clear()
    found = tail.refresh()
    assert found.rewound
    assert tail.final + found.tail == chain.everything()
    assert {"b", "c"}.isdisjoint(item for _, item in tail.final)
    assert chain.ranges[0][0] == kept[0] + 1  # rescanned from the newest checkpoint that survived


def test_a_reorg_past_every_checkpoint_rebuilds_from_the_start_block() -> None:
    chain = ScriptedChain(confirmations=0)
    chain.mine(empty=3)  # blocks 1..4
    tail = _tail(chain, start=3)
    chain.mine("x")
    _seen(tail)
    chain.reorg(3, ["y"], [])
    chain.ranges.clear()
    found = tail.refresh()
    assert found.rewound and tail.final == [(3, "y")]
    assert chain.ranges[0] == (3, 4)


def test_a_shorter_chain_after_a_reorg_is_handled() -> None:
    chain = ScriptedChain(confirmations=0)
    chain.mine("a", empty=3)
    tail = _tail(chain)
    _seen(tail)
    chain.reorg(3, [])
    assert _seen(tail) == chain.everything()


@pytest.mark.parametrize("rounds", [MAX_CHECKPOINTS + 5])
def test_checkpoints_are_bounded(rounds: int) -> None:
    chain = ScriptedChain(confirmations=0)
    tail = _tail(chain)
    for i in range(rounds):
        chain.mine(f"m{i}")
        _seen(tail)
    assert len(tail.checkpoints) == MAX_CHECKPOINTS
    assert [item for _, item in tail.final] == [f"m{i}" for i in range(rounds)]


def test_a_refresh_that_fails_half_way_changes_nothing() -> None:
    chain = ScriptedChain(confirmations=0)
    chain.mine("a")
    tail = _tail(chain)
    _seen(tail)
    state = (list(tail.final), tail.cursor, list(tail.checkpoints))
    chain.mine("b")
    scan = chain.scan

    def failing(first: int, last: int) -> list[Item]:
        raise ChainCallError("scripted", "eth_getLogs", "node hiccup")

    tail.scan = failing
    with pytest.raises(ChainCallError):
        tail.refresh()
    assert (tail.final, tail.cursor, tail.checkpoints) == state
    tail.scan = scan
    assert _seen(tail) == chain.everything()
