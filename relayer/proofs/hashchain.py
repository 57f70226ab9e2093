"""Route hash chain (docs/protocol.md): leaves, heads and the message models the contracts take."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from eth_utils import keccak
from pydantic import BaseModel, ConfigDict, Field

from relayer.errors import HeadMismatchError, NonceGapError
from relayer.proofs import words
from relayer.types import UINT64_MAX, Address, BlockNumber, Bytes32, Nonce, Uint256

DEPOSIT_TYPEHASH = keccak(
    text="Deposit(uint64 nonce,address depositor,address account,address token,uint256 amount)"
)
WITHDRAWAL_TYPEHASH = keccak(
    text="Withdrawal(uint64 nonce,address account,address recipient,address token,uint256 amount)"
)
RECOVERY_MARKER = "0x3e471713Ba29bf8523714805800AbED4E99511Aa"
"""`token` of a recovery message on a withdrawal route (contracts/libraries/RecoveryMessage.sol):
the last 20 bytes of keccak256("xmargin.release-recovery"); `amount` is then the nonce of the
parked release it redirects (to `recipient`) or refunds (`recipient` zero)."""
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
ZERO_HEAD = bytes(32)
"""head_0: the head of a route before its first message."""

_LEAF_TYPES = ["bytes32", "uint64", "address", "address", "address", "uint256"]


def _leaf(typehash: bytes, nonce: int, a: str, b: str, token: str, amount: int) -> bytes:
    """keccak256(abi.encode(typehash, nonce, a, b, token, amount)) (types `_LEAF_TYPES`), the words
    built directly (relayer.proofs.words: the same bytes as eth_abi, several times faster)."""
    return keccak(b"".join((
        words.bytes32(typehash), words.uint(nonce, 64), words.address(a), words.address(b), words.address(token),
        words.uint(amount),
    )))


def deposit_leaf(nonce: int, depositor: str, account: str, token: str, amount: int) -> bytes:
    """keccak256(abi.encode(DEPOSIT_TYPEHASH, nonce, depositor, account, token, amount))."""
    return _leaf(DEPOSIT_TYPEHASH, nonce, depositor, account, token, amount)


def withdrawal_leaf(nonce: int, account: str, recipient: str, token: str, amount: int) -> bytes:
    """keccak256(abi.encode(WITHDRAWAL_TYPEHASH, nonce, account, recipient, token, amount))."""
    return _leaf(WITHDRAWAL_TYPEHASH, nonce, account, recipient, token, amount)


def extend(head: bytes, leaf: bytes) -> bytes:
    """keccak256(head || leaf): the head after appending one leaf."""
    if len(head) != 32 or len(leaf) != 32:
        raise ValueError("head and leaf must be 32 bytes each")
    return keccak(bytes(head) + bytes(leaf))


class DepositMessage(BaseModel):
    """A deposit as `processDeposits` takes it (no nonce: implied by the batch position)."""

    model_config = ConfigDict(frozen=True)

    depositor: Address
    account: Address
    """Hub account credited (may differ from the depositor)."""
    token: Address
    amount: Uint256
    """In the token's own units: what the lockbox received."""

    def leaf(self, nonce: int) -> bytes:
        """This message's leaf at `nonce`."""
        return deposit_leaf(nonce, self.depositor, self.account, self.token, self.amount)

    def as_tuple(self) -> tuple[str, str, str, int]:
        """The ABI tuple of `DepositMessage` (contracts/libraries/Messages.sol)."""
        return (self.depositor, self.account, self.token, self.amount)


class WithdrawalMessage(BaseModel):
    """A withdrawal as `processWithdrawals` takes it (no nonce)."""

    model_config = ConfigDict(frozen=True)

    account: Address
    recipient: Address
    token: Address
    """Token on the destination spoke."""
    amount: Uint256
    """In the spoke token's own units: what the lockbox will release."""

    @property
    def is_recovery(self) -> bool:
        """A redirect or refund of parked release `amount`, not a withdrawal of tokens."""
        return self.token.lower() == RECOVERY_MARKER.lower()

    @property
    def is_refund(self) -> bool:
        """A recovery that refunds the release to its hub account (no recipient)."""
        return self.is_recovery and self.recipient.lower() == ZERO_ADDRESS

    def leaf(self, nonce: int) -> bytes:
        """This message's leaf at `nonce`."""
        return withdrawal_leaf(nonce, self.account, self.recipient, self.token, self.amount)

    def as_tuple(self) -> tuple[str, str, str, int]:
        """The ABI tuple of `WithdrawalMessage` (contracts/libraries/Messages.sol)."""
        return (self.account, self.recipient, self.token, self.amount)


Message = DepositMessage | WithdrawalMessage


def fold(head: bytes, first_nonce: int, messages: Sequence[Message]) -> bytes:
    """Head after appending `messages`; `messages[k]` has nonce `first_nonce + k`."""
    for k, message in enumerate(messages):
        head = extend(head, message.leaf(first_nonce + k))
    return head


class RouteMessage(BaseModel):
    """One message as read from its source event, with where it was emitted."""

    model_config = ConfigDict(frozen=True)

    nonce: Annotated[Nonce, Field(ge=0, le=UINT64_MAX)]
    message: DepositMessage | WithdrawalMessage
    head: Bytes32
    """Head after this message, as the source event reports it."""
    block_number: BlockNumber
    block_hash: Bytes32
    tx_hash: Bytes32
    tx_index: int
    log_index: int


def check_chain(head: bytes, processed_nonce: int, messages: Sequence[RouteMessage]) -> bytes:
    """Head after `messages`, checking each event's head and nonce (HeadMismatchError, NonceGapError)."""
    for k, item in enumerate(messages):
        expected_nonce = processed_nonce + 1 + k
        if item.nonce != expected_nonce:
            raise NonceGapError(expected_nonce, item.nonce)
        head = extend(head, item.message.leaf(item.nonce))
        if head != item.head:
            raise HeadMismatchError(item.nonce, head, item.head)
    return head
