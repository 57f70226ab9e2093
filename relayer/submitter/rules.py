"""The destination's quorum rules for a route (its current validators of the route's source and
their threshold), read at most once a tick and only when there are signatures to check: an idle
tick (nothing signed above the processed nonce) reads nothing. Each read refreshes the threshold
hint the store's publish script needs to kick the submitter (D44); a route idle for
longer than THRESHOLD_HINT_REFRESH_S is read anyway so the hint never expires under a live
submitter."""

from __future__ import annotations

import time
from collections.abc import Callable

from eth_abi.abi import decode

from relayer.chain.abi import encode_call
from relayer.chain.client import ChainClient
from relayer.chain.routes import DEST_CONTRACT
from relayer.errors import ChainCallError
from relayer.types import RouteId, checksum

THRESHOLD_HINT_REFRESH_S = 60.0
"""An idle route's rules are read this often anyway (the hint lives HINT_TTL_S, 600 s)."""

Rules = tuple[list[str], int]
"""(validators, threshold) of a route at its destination."""


def read_rules(client: ChainClient, dest: str, route: RouteId) -> Rules:
    """`validatorsOf` and `thresholdOf` the route's source on its destination contract (raw eth_calls)."""
    contract = DEST_CONTRACT[route.kind]
    validators_raw = client.eth_call(dest, encode_call(contract, "validatorsOf", [route.source_chain_id]),
                                     label="validatorsOf")
    threshold_raw = client.eth_call(dest, encode_call(contract, "thresholdOf", [route.source_chain_id]),
                                    label="thresholdOf")
    try:
        (validators,) = decode(["address[]"], validators_raw)
        (threshold,) = decode(["uint256"], threshold_raw)
    except Exception as err:  # noqa: BLE001 - eth_abi raises several types for malformed return data
        raise ChainCallError(client.name, "validatorsOf/thresholdOf", f"undecodable answer: {err}") from err
    return [checksum(v) for v in validators], int(threshold)


class TickRules:
    """One tick's rules of one route: read on first use, then kept for the rest of the tick."""

    def __init__(self, read: Callable[[], Rules], eager: bool) -> None:
        self._read = read
        self._rules: Rules | None = read() if eager else None

    def get(self) -> Rules:
        """(validators, threshold), read now if this tick has not read them yet."""
        if self._rules is None:
            self._rules = self._read()
        return self._rules


class RouteRules:
    """Per route: when its rules were last read (for the hint refresh)."""

    def __init__(self, read: Callable[[RouteId], Rules], clock: Callable[[], float] = time.monotonic) -> None:
        self._read = read
        self._clock = clock
        self._last: dict[RouteId, float] = {}

    def for_tick(self, route: RouteId) -> TickRules:
        """A tick's lazy rules; read at once if the route's were last read too long ago."""
        due = self._clock() - self._last.get(route, float("-inf")) >= THRESHOLD_HINT_REFRESH_S

        def read() -> Rules:
            rules = self._read(route)
            self._last[route] = self._clock()
            return rules

        return TickRules(read, eager=due)
