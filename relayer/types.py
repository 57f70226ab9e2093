"""Shared value types: ids with meaning (chain, nonce, route), checksummed addresses, bytes32."""

from __future__ import annotations

import functools
import re
from enum import Enum
from typing import Annotated, Any, NewType

from eth_typing import BlockNumber as BlockNumber  # web3's own type, so block numbers flow unwrapped
from eth_utils import is_address, to_checksum_address
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

from relayer.errors import InvalidRouteError

ChainId = NewType("ChainId", int)
Nonce = NewType("Nonce", int)
"""A route message nonce (not an account's transaction nonce, which is eth_typing's `Nonce`)."""

NATIVE_TOKEN = "0xEeeeeEeeeEeEeeEeEeEeeEEEeeeeEeeeeeeeEEeE"
"""The token address that stands for the chain's native coin (docs/protocol.md)."""
MAX_BATCH = 100
"""Validators sign every multiple of this nonce (besides block ends), so from any processed nonce a
checkpoint is at most this far; a submitter may deliver longer batches (up to MAX_SUBMIT_BATCH,
limited by the destination's block gas, relayer.submitter.sizing)."""
MAX_SUBMIT_BATCH = 1000
"""Most messages one batch may carry; a hub block of 30M gas takes ~1,000 deposits to new balances."""
UINT64_MAX = 2**64 - 1
UINT256_MAX = 2**256 - 1

ChainIdField = Annotated[ChainId, Field(gt=0, le=UINT64_MAX)]
"""A chain id as a pydantic field: a uint64 above 0 (what the contracts store)."""


def checksum(value: Any) -> str:
    """Checksummed form of an address given as str or bytes; ValueError if it is not one."""
    if isinstance(value, (bytes, bytearray)):
        value = "0x" + bytes(value).hex()
    if not isinstance(value, str):
        raise ValueError(f"not an address: {value!r}")
    return _checksum_text(value)


@functools.lru_cache(maxsize=1 << 16)
def _checksum_text(value: str) -> str:
    """`checksum` of text, cached: the same few addresses (tokens, depositors, accounts) recur in
    every message a validator or submitter decodes, and each checksum is a keccak."""
    if not is_address(value):
        raise ValueError(f"not an address: {value!r}")
    return to_checksum_address(value)


def to_bytes32(value: Any) -> bytes:
    """Exactly 32 bytes from bytes or 0x-hex; ValueError otherwise."""
    if isinstance(value, str):
        text = value[2:] if value.startswith(("0x", "0X")) else value
        try:
            value = bytes.fromhex(text)
        except ValueError as err:
            raise ValueError(f"not hex: {value!r}") from err
    if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
        raise ValueError(f"expected 32 bytes, got {value!r}")
    return bytes(value)


def _hex(value: bytes) -> str:
    """0x-hex for JSON output."""
    return "0x" + value.hex()


Address = Annotated[str, AfterValidator(checksum)]
"""A checksummed address (accepts any case on input)."""
Bytes32 = Annotated[bytes, BeforeValidator(to_bytes32), PlainSerializer(_hex, when_used="json")]
"""A bytes32 value: bytes in Python, 0x-hex in JSON."""
Uint64 = Annotated[int, Field(ge=0, le=UINT64_MAX)]
Uint256 = Annotated[int, Field(ge=0, le=UINT256_MAX)]


class RouteKind(str, Enum):
    """Direction of a route: spoke lockbox -> hub ledger, or hub ledger -> one spoke lockbox."""

    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"


_ROUTE_RE = re.compile(r"^(deposit|withdrawal):(\d+)->(\d+)$")


class RouteId(BaseModel):
    """One hash-chained message route; `str(route)` is e.g. `deposit:31338->31337`."""

    model_config = ConfigDict(frozen=True)

    kind: RouteKind
    source_chain_id: ChainIdField
    """Chain whose contract appends the messages."""
    dest_chain_id: ChainIdField
    """Chain whose contract processes them."""

    @model_validator(mode="after")
    def _distinct_chains(self) -> RouteId:
        """A route always crosses chains."""
        if self.source_chain_id == self.dest_chain_id:
            raise ValueError("source and destination chain ids must differ")
        return self

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.source_chain_id}->{self.dest_chain_id}"

    @property
    def spoke_chain_id(self) -> ChainId:
        """The spoke end of the route (source for deposits, destination for withdrawals)."""
        return self.source_chain_id if self.kind is RouteKind.DEPOSIT else self.dest_chain_id

    @classmethod
    def parse(cls, text: str) -> RouteId:
        """Route from its string form; InvalidRouteError if malformed."""
        match = _ROUTE_RE.match(text.strip())
        if match is None:
            raise InvalidRouteError(text, "expected <deposit|withdrawal>:<sourceChainId>-><destChainId>")
        kind, source, dest = match.groups()
        if source == dest or int(source) == 0 or int(dest) == 0 or max(int(source), int(dest)) > UINT64_MAX:
            raise InvalidRouteError(text, "chain ids must be distinct uint64 values above 0")
        return cls(kind=RouteKind(kind), source_chain_id=ChainId(int(source)), dest_chain_id=ChainId(int(dest)))
