"""Where a route's messages are on the source chain: the block range holding nonces `first..last`,
found by bisection over the source contract's state, and the messages read from its logs."""

from __future__ import annotations

from collections.abc import Callable

from web3 import Web3

from relayer.chain.routes import RouteReader
from relayer.deployment import Deployment
from relayer.errors import ChainCallError, NonceGapError
from relayer.proofs.hashchain import RouteMessage
from relayer.types import RouteId


class SourceMessages:
    """Reads contiguous message ranges of routes, remembering per route the last block a delivered
    batch ended in (a lower bound for the next search) and where the source contract starts."""

    def __init__(self, deployment: Deployment, reader: Callable[[RouteId], RouteReader]) -> None:
        self.deployment = deployment
        self.reader = reader
        self._hints: dict[RouteId, tuple[int, int]] = {}
        self._deploy_blocks: dict[RouteId, int] = {}

    def remember(self, route: RouteId, last_nonce: int, last_block: int) -> None:
        """Nonces up to `last_nonce` are at or below `last_block`: later searches start there."""
        self._hints[route] = (last_nonce, last_block)

    def fetch(self, route: RouteId, first: int, last: int) -> list[RouteMessage]:
        """Messages `first..last` of the route, read from the source chain's logs (contiguous)."""
        reader = self.reader(route)
        latest = reader.source_client.block_number()
        low = self._lower_bound(route, first)
        from_block = self._block_of(reader, first, low, latest)
        to_block = self._block_of(reader, last, from_block, latest)
        found = [m for m in reader.scan_messages(from_block, to_block) if first <= m.nonce <= last]
        for k, item in enumerate(found):
            if item.nonce != first + k:
                raise NonceGapError(first + k, item.nonce, route)
        if len(found) != last - first + 1:
            raise NonceGapError(first + len(found), last, route)
        return found

    @staticmethod
    def _block_of(reader: RouteReader, nonce: int, low: int, high: int) -> int:
        """First block whose source state includes `nonce` (bisection over eth_call at past blocks)."""
        block = reader.block_of_nonce(nonce, low, high)
        if block is None:
            raise ChainCallError(reader.source_client.name, "block_of_nonce", f"nonce {nonce} not on chain yet")
        return block

    def _lower_bound(self, route: RouteId, nonce: int) -> int:
        """A block at or below the one holding `nonce` where the source contract exists."""
        hint = self._hints.get(route)
        if hint is not None and hint[0] < nonce:
            return hint[1]
        return self._deploy_block(route)

    def _deploy_block(self, route: RouteId) -> int:
        """First block where the source contract has code: the deployment record's when it says,
        else found by bisection over eth_getCode (records written before deploy blocks), cached."""
        if route not in self._deploy_blocks:
            recorded = self.deployment.source_deploy_block(route)
            self._deploy_blocks[route] = recorded if recorded > 0 else self._bisect_deploy_block(route)
        return self._deploy_blocks[route]

    def _bisect_deploy_block(self, route: RouteId) -> int:
        """Bisection over eth_getCode for the first block with the source contract's code."""
        reader = self.reader(route)
        w3 = reader.source_client.w3
        source = Web3.to_checksum_address(reader.source_address)
        low, high = 0, int(reader.source_client.block_number())
        while low < high:
            mid = (low + high) // 2
            if len(w3.eth.get_code(source, mid)) > 0:
                high = mid
            else:
                low = mid + 1
        return low
