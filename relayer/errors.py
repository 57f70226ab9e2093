"""The relayer's one exception tree: every error raised on purpose derives from XmarginError.

XmarginError
├── ConfigError ── ArtifactMissingError
├── InvalidRouteError
├── ChainError ── RpcUnavailableError, ChainCallError, SourceReorgedError
│   └── TransactionError ── CallRevertedError, TransactionRevertedError, TransactionStuckError,
│       NonceTakenError
├── ProofError ── ReceiptProofError, HeadMismatchError, NonceGapError, SignatureError
├── SigningConflictError, RouteHaltedError            (validator's signing protection)
├── StoreError ── StoreUnavailableError, LockUnavailableError
├── SubmitError ── QuorumNotReachedError, SimulationRevertedError
├── MarginError ── MarginInputError, KeeperError      (margin mirror, keeper, oracle pusher)
├── ActionError ── TradeRejectedError, SignatureRejectedError   (user actions refused or reverted)
├── AuditError ── SnapshotInconsistentError           (solvency audit)
├── DevnetError ── DeadlineError
└── BenchError                                        (benchmarks: set-up or a relayed transfer failed)
Every error class lives here; modules that raise one may re-export it (e.g. `relayer.devnet._proc.DevnetError`).
This module imports nothing but the standard library: the brownie environment loads it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # relayer.types raises InvalidRouteError: import it for annotations only
    from relayer.types import RouteId


def _hex(value: bytes) -> str:
    """0x-hex of a bytes value, for messages."""
    return "0x" + bytes(value).hex()


class XmarginError(Exception):
    """Root of every error the relayer raises on purpose."""


class ConfigError(XmarginError):
    """Configuration or deployment file rejected; `problems` lists (field path, reason)."""

    def __init__(self, problems: Sequence[tuple[str, str]], source: str | None = None) -> None:
        self.problems: list[tuple[str, str]] = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        detail = "; ".join(f"{loc}: {msg}" for loc, msg in self.problems)
        super().__init__(f"invalid configuration{where}: {detail}")

    @property
    def fields(self) -> list[str]:
        """Dotted paths of the rejected fields."""
        return [loc for loc, _ in self.problems]


class ArtifactMissingError(ConfigError):
    """A contract's build artifact is missing or malformed (run `brownie compile`)."""

    def __init__(self, name: str, folder: str, reason: str = "no compiled artifact; run `brownie compile`") -> None:
        self.name = name
        self.folder = folder
        super().__init__([(name, reason)], folder)


class InvalidRouteError(XmarginError, ValueError):
    """A route id string that is not `<kind>:<source>-><dest>`."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        super().__init__(f"invalid route id {text!r}: {reason}")


class ChainError(XmarginError):
    """Talking to a chain failed."""


class RpcUnavailableError(ChainError):
    """No RPC endpoint of a chain answered (all failed over, retries exhausted)."""

    def __init__(self, chain: str, urls: Iterable[str], method: str, last_error: str) -> None:
        self.chain = chain
        self.urls = list(urls)
        self.method = method
        self.last_error = last_error
        super().__init__(
            f"chain {chain}: no RPC endpoint answered {method} "
            f"(tried {', '.join(self.urls)}); last error: {last_error}"
        )


class SourceReorgedError(ChainError):
    """A block changed under the scan (the log's block hash is no longer the canonical one): retry."""

    def __init__(self, chain: str, block: int, expected: bytes, actual: bytes) -> None:
        self.chain = chain
        self.block = block
        super().__init__(
            f"chain {chain}: block {block} is now 0x{actual.hex()}, the scan saw 0x{expected.hex()}"
        )


class WrongChainError(ChainError):
    """An RPC endpoint serves another chain than configured: it is never used."""

    def __init__(self, chain: str, url: str, expected: int, actual: int) -> None:
        self.chain = chain
        self.url = url
        self.expected = expected
        self.actual = actual
        super().__init__(f"chain {chain}: {url} reports chain id {actual}, configured {expected}; endpoint refused")


class HeaderMismatchError(ChainError):
    """A block header the node returned does not hold together (its hash is not the keccak of its
    fields, it does not link to the last scanned block, or a second provider disagrees): nothing is signed."""

    def __init__(self, chain: str, block: int, reason: str) -> None:
        self.chain = chain
        self.block = block
        self.reason = reason
        super().__init__(f"chain {chain}: block {block} header refused: {reason}")


class ChainCallError(ChainError):
    """An RPC endpoint answered with an error (a revert, a bad request): retrying will not help."""

    def __init__(self, chain: str, method: str, reason: str) -> None:
        self.chain = chain
        self.method = method
        self.reason = reason
        super().__init__(f"chain {chain}: {method} failed: {reason}")


class TransactionError(ChainError):
    """Sending a transaction failed: it would revert, it reverted, or it was never mined."""


class CallRevertedError(TransactionError):
    """A simulation (eth_call / eth_estimateGas) reverted; `data` is the revert data, if any."""

    def __init__(self, chain: str, what: str, data: bytes | None, reason: str) -> None:
        self.chain = chain
        self.what = what
        self.data = data
        self.reason = reason
        super().__init__(f"chain {chain}: {what} would revert: {reason}")


class TransactionRevertedError(TransactionError):
    """A mined transaction has status 0."""

    def __init__(self, chain: str, what: str, tx_hash: str) -> None:
        self.chain = chain
        self.what = what
        self.tx_hash = tx_hash
        super().__init__(f"chain {chain}: {what} reverted in tx {tx_hash}")


class TransactionStuckError(TransactionError):
    """A sent transaction was not mined in time even after fee bumps."""

    def __init__(self, chain: str, tx_hash: bytes | str, waited_s: float) -> None:
        self.chain = chain
        self.tx_hash = tx_hash if isinstance(tx_hash, str) else _hex(tx_hash)
        self.waited_s = waited_s
        super().__init__(f"chain {chain}: transaction {self.tx_hash} not mined after {waited_s:.1f}s")


class NonceTakenError(TransactionError):
    """A sent transaction's nonce was mined with another transaction (none of its attempts): it will
    never be mined, whatever its fees."""

    def __init__(self, chain: str, tx_hash: bytes | str, nonce: int) -> None:
        self.chain = chain
        self.tx_hash = tx_hash if isinstance(tx_hash, str) else _hex(tx_hash)
        self.nonce = nonce
        super().__init__(f"chain {chain}: nonce {nonce} of transaction {self.tx_hash} was used by another transaction")


class ProofError(XmarginError):
    """Source-chain evidence does not check out."""


class ReceiptProofError(ProofError):
    """A receipt inclusion proof does not verify against the block's receiptsRoot."""

    def __init__(self, index: int, reason: str) -> None:
        self.index = index
        self.reason = reason
        super().__init__(f"receipt proof for tx index {index} rejected: {reason}")


class HeadMismatchError(ProofError):
    """A recomputed hash-chain head differs from the claimed one (event or contract storage)."""

    def __init__(self, nonce: int, computed: bytes, claimed: bytes, route: RouteId | None = None) -> None:
        self.nonce = nonce
        self.computed = bytes(computed)
        self.claimed = bytes(claimed)
        self.route = route
        where = f"route {route} " if route is not None else ""
        super().__init__(
            f"{where}head mismatch at nonce {nonce}: computed {_hex(computed)}, claimed {_hex(claimed)}"
        )


class NonceGapError(ProofError):
    """Route messages are not contiguous (a missed or duplicated event)."""

    def __init__(self, expected: int, actual: int, route: RouteId | None = None) -> None:
        self.expected = expected
        self.actual = actual
        self.route = route
        where = f"route {route}: " if route is not None else ""
        super().__init__(f"{where}expected message nonce {expected}, got {actual}")


class SignatureError(ProofError):
    """A checkpoint signature is malformed or does not recover (OpenZeppelin ECDSA rules)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"invalid checkpoint signature: {reason}")


class SigningConflictError(XmarginError):
    """A second head for an already signed (route, nonce): a reorg past finality; halt the route."""

    def __init__(self, route: RouteId, nonce: int, signed_head: bytes, new_head: bytes) -> None:
        self.route = route
        self.nonce = nonce
        self.signed_head = bytes(signed_head)
        self.new_head = bytes(new_head)
        super().__init__(
            f"route {route} nonce {nonce}: already signed head {_hex(signed_head)}, "
            f"now asked to sign {_hex(new_head)} (reorg past finality?)"
        )


class RouteHaltedError(XmarginError):
    """The route is halted in the signing-protection record: nothing is signed until it is cleared."""

    def __init__(self, route: RouteId, reason: str) -> None:
        self.route = route
        self.reason = reason
        super().__init__(f"route {route} is halted: {reason}")


class StoreError(XmarginError):
    """The Redis store failed (it is a cache: the chains remain the truth)."""


class StoreUnavailableError(StoreError):
    """Redis did not answer."""

    def __init__(self, where: str, operation: str, reason: str) -> None:
        self.where = where
        self.operation = operation
        self.reason = reason
        super().__init__(f"redis at {where}: {operation} failed: {reason}")


class LockUnavailableError(StoreError):
    """A named lock was not acquired in time, or expired before its holder released it."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason
        super().__init__(f"lock {name!r}: {reason}")


class PublishError(XmarginError):
    """No relayer API accepted what the validator published (it is published again next tick)."""

    def __init__(self, path: str, failures: list[str]) -> None:
        self.path = path
        self.failures = failures
        super().__init__(f"no relayer API accepted {path}: {'; '.join(failures)}")


class SubmitError(XmarginError):
    """Submitting a batch to the destination chain failed."""


class QuorumNotReachedError(SubmitError):
    """Fewer published signatures than the destination's threshold."""

    def __init__(self, route: RouteId, nonce: int, signatures: int, threshold: int) -> None:
        self.route = route
        self.nonce = nonce
        self.signatures = signatures
        self.threshold = threshold
        super().__init__(
            f"route {route} nonce {nonce}: {signatures} signatures, threshold {threshold}"
        )


class SimulationRevertedError(SubmitError):
    """eth_call of the batch reverted: sending it would waste gas."""

    def __init__(self, route: RouteId, reason: str) -> None:
        self.route = route
        self.reason = reason
        super().__init__(f"route {route}: batch simulation reverted: {reason}")


class MarginError(XmarginError):
    """Margin engine in Python: the maths mirror, the keeper and the oracle pusher."""


class MarginInputError(MarginError, ValueError):
    """An input outside the domain the contracts accept (e.g. zero skew scale, an empty price path)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"invalid margin input: {what}")
        self.what = what


class KeeperError(MarginError):
    """A keeper round could not complete (a liquidation reverted for a reason that is not benign)."""

    def __init__(self, account: str, reason: str) -> None:
        self.account = account
        self.reason = reason
        super().__init__(f"liquidation of {account} failed: {reason}")


class ActionError(XmarginError):
    """A user action was refused (bad input) or its transaction reverted."""


class TradeRejectedError(ActionError):
    """A trade the contracts refuse; `error` is the decoded custom error's name (e.g. OraclePriceStale)."""

    def __init__(self, error: str, message: str) -> None:
        self.error = error
        super().__init__(message)


class SignatureRejectedError(ActionError):
    """A published checkpoint signature was refused; `status` is the HTTP status the API answers."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(message)


class AuditError(XmarginError):
    """The solvency audit could not complete."""


class SnapshotInconsistentError(AuditError):
    """The chains moved between the hub read and a spoke read in a way the audit cannot reconcile."""


class DevnetError(XmarginError):
    """The devnet could not be started, reached or stopped."""


class DeadlineError(DevnetError):
    """A polled condition did not come true before its deadline."""

    def __init__(self, what: str, timeout_s: float, last: str = "") -> None:
        self.what = what
        self.timeout_s = timeout_s
        detail = f" (last: {last})" if last else ""
        super().__init__(f"timed out after {timeout_s:.0f}s waiting for {what}{detail}")


class BenchError(XmarginError):
    """A benchmark could not set up or run its chain, or a relayed transfer went wrong."""
