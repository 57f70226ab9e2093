"""Web3 client per chain: RPC failover across URLs, bounded retries of safe methods, chunked log scans."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import requests
import requests.adapters
import requests.utils
from eth_typing import ChecksumAddress
from hexbytes import HexBytes
from urllib3.exceptions import NewConnectionError
from web3 import HTTPProvider, Web3
from web3.contract.contract import ContractFunction
from web3.datastructures import AttributeDict
from web3.exceptions import Web3Exception
from web3.providers.base import JSONBaseProvider
from web3.types import BlockData, BlockIdentifier, FilterParams, LogReceipt, RPCEndpoint, RPCResponse

from relayer.chain.headers import check_header
from relayer.config import ChainConfig
from relayer.errors import ChainCallError, HeaderMismatchError, RpcUnavailableError, WrongChainError
from relayer.types import BlockNumber

log = logging.getLogger(__name__)

RETRYABLE_METHODS = frozenset(
    {
        "web3_clientVersion", "net_version", "eth_chainId", "eth_syncing", "eth_blockNumber", "eth_gasPrice",
        "eth_maxPriorityFeePerGas", "eth_feeHistory", "eth_getBalance", "eth_getCode", "eth_getStorageAt",
        "eth_getProof", "eth_getTransactionCount", "eth_getBlockByNumber", "eth_getBlockByHash",
        "eth_getBlockReceipts", "eth_getTransactionByHash", "eth_getTransactionReceipt", "eth_call",
        "eth_estimateGas", "eth_getLogs", "eth_createAccessList",
        "eth_sendRawTransaction",  # idempotent: the same signed bytes give the same hash
    }
)
"""Methods safe to send again, to another URL or after a timeout: reads and raw-tx broadcast."""
BACKOFF_BASE_S = 0.1
BACKOFF_CAP_S = 2.0
_TRANSIENT_HTTP = frozenset({429, 502, 503, 504})
_TRANSIENT_RPC_CODES = frozenset({-32603, -32005})
"""JSON-RPC error answers that say nothing about the request: internal error, limit exceeded. A read
answered so is asked again like a dropped one (the soak's fault proxy showed that one such answer
in the hundreds of reads of a submitter tick otherwise fails the tick, and the backlog it leaves
makes the next tick longer still). Reverts (code 3, -32000) are never retried."""

T = TypeVar("T")


def redact(url: str) -> str:
    """scheme://host:port only: RPC URLs often carry an API key in their path or query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def _never_sent(err: requests.RequestException) -> bool:
    """True if the request cannot have reached the node (connection refused or connect timeout)."""
    if isinstance(err, requests.ConnectTimeout):
        return True
    reason = getattr(err.args[0], "reason", None) if err.args else None
    return isinstance(reason, NewConnectionError)


def _addresses(address: str | Sequence[str]) -> ChecksumAddress | list[ChecksumAddress]:
    """eth_getLogs' address filter: one contract or several."""
    if isinstance(address, str):
        return Web3.to_checksum_address(address)
    return [Web3.to_checksum_address(a) for a in address]


SESSION_POOL_SIZE = 16
"""Connections kept per RPC URL: a validator reads with 8 threads, a submitter worker runs 4 ticks."""


def rpc_session(url: str) -> requests.Session:
    """The HTTP session of one RPC URL, shared by every thread of the process: the environment's
    proxy, CA bundle and netrc settings for `url` are read once, here, and the session then stops
    reading the environment (requests' `trust_env` scanned every environment variable on every
    request: ~15% of a validator's CPU)."""
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    auth = requests.utils.get_netrc_auth(url)
    if auth:
        session.auth = auth
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=SESSION_POOL_SIZE)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class FailoverProvider(JSONBaseProvider):
    """JSON-RPC over HTTP to the first URL that answers; sticks to a URL until it fails. Before the
    first request to a URL, and again after every failover to it, its eth_chainId must equal
    `chain_id` (when given): a URL serving another chain is refused for good."""

    def __init__(
        self, chain: str, urls: Sequence[str], timeout_s: float, retries: int,
        sleep: Callable[[float], None] = time.sleep, chain_id: int | None = None,
    ) -> None:
        super().__init__()
        self.chain = chain
        self.chain_id = chain_id
        self.refused: dict[int, WrongChainError] = {}
        """URL index -> why it was refused (it serves another chain)."""
        self._checked: int | None = None
        self._check_lock = threading.Lock()
        self.urls = list(urls)
        self.retries = retries
        self.calls: Counter[str] = Counter()
        """Requests sent per method (all URLs, all attempts)."""
        self._sleep = sleep
        self._active = 0
        self._providers = [
            HTTPProvider(url, request_kwargs={"timeout": timeout_s}, session=rpc_session(url),
                         exception_retry_configuration=None)
            for url in self.urls
        ]

    @property
    def active_url(self) -> str:
        """Redacted URL currently in use."""
        return redact(self.urls[self._active])

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        """Send to the active URL, failing over (and, for safe methods, retrying with backoff)."""
        retryable = method in RETRYABLE_METHODS
        rounds = 1 + self.retries if retryable else 1
        last_error = "no attempt"
        for attempt in range(rounds):
            if attempt:
                self._sleep(min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1)))
            for offset in range(len(self._providers)):
                index = (self._active + offset) % len(self._providers)
                if index in self.refused:
                    last_error = str(self.refused[index])
                    continue
                self.calls[method] += 1
                try:
                    unchecked = self._check_chain_id(index)
                    if index in self.refused:
                        last_error = str(self.refused[index])
                        continue
                    if unchecked is not None:  # the check itself met a fault: this URL, later
                        last_error = unchecked
                        log.info("chain %s: %s not sent: %s", self.chain, method, unchecked,
                                 extra={"chain": self.chain})
                        continue
                    response = self._providers[index].make_request(method, params)
                except requests.HTTPError as err:
                    status = err.response.status_code if err.response is not None else 0
                    if status not in _TRANSIENT_HTTP:
                        raise ChainCallError(self.chain, method, f"HTTP {status}") from err
                    last_error = f"HTTP {status} from {redact(self.urls[index])}"
                    if not retryable:
                        break
                except requests.RequestException as err:
                    last_error = f"{type(err).__name__} from {redact(self.urls[index])}"
                    if not (retryable or _never_sent(err)):
                        break  # the node may have acted on it: do not send it twice
                else:
                    error = response.get("error") if isinstance(response, dict) else None
                    if retryable and method != "eth_sendRawTransaction" and isinstance(error, dict) \
                            and error.get("code") in _TRANSIENT_RPC_CODES:
                        last_error = f"JSON-RPC error {error.get('code')} from {redact(self.urls[index])}"
                        log.info("chain %s: %s failed: %s", self.chain, method, last_error, extra={"chain": self.chain})
                        continue
                    if index != self._active:
                        url = redact(self.urls[index])
                        log.warning("chain %s: failing over to %s", self.chain, url, extra={"chain": self.chain})
                        self._active = index
                    return response
                log.info("chain %s: %s failed: %s", self.chain, method, last_error, extra={"chain": self.chain})
        if len(self.refused) == len(self.urls):
            raise next(iter(self.refused.values()))
        raise RpcUnavailableError(self.chain, [redact(u) for u in self.urls], method, last_error)

    def _check_chain_id(self, index: int) -> str | None:
        """Ask URL `index` for its chain id unless it is the one last checked (one thread asks,
        the others wait for its answer). Another chain id refuses the URL for good (logged as an
        error). An error answer or no id at all proves nothing: returned as the reason the check
        is owed (the caller tries elsewhere or later, like a dropped request; the soak's proxy
        answers -32603 to some eth_chainId, which used to refuse a good URL for good). Transport
        errors propagate to the failover loop."""
        if self.chain_id is None or self._checked == index:
            return None
        with self._check_lock:
            if self._checked == index or index in self.refused:
                return None
            response = self._providers[index].make_request(RPCEndpoint("eth_chainId"), [])
            result = response.get("result") if isinstance(response, dict) else None
            try:
                actual = int(str(result), 16) if isinstance(result, str) else int(result)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                error = response.get("error") if isinstance(response, dict) else None
                code = error.get("code") if isinstance(error, dict) else None
                return f"eth_chainId check of {redact(self.urls[index])} unanswered (JSON-RPC error {code})"
            if actual != self.chain_id:
                err = WrongChainError(self.chain, redact(self.urls[index]), self.chain_id, actual)
                self.refused[index] = err
                log.error("%s", err, extra={"chain": self.chain})
                return None
            self._checked = index
            return None


class ChainClient:
    """One chain: a Web3 over a FailoverProvider plus the reads the relayer needs, errors typed."""

    def __init__(self, config: ChainConfig, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.name = config.name or str(config.chain_id)
        self.chain_id = config.chain_id
        self.provider = FailoverProvider(
            self.name, config.rpc_urls, config.rpc_timeout_s, config.rpc_retries, sleep, chain_id=config.chain_id
        )
        self.w3 = Web3(self.provider)
        # web3's validation middleware asks the node for eth_chainId before every eth_call (to check
        # a `chainId` the call never carries): twice the requests, each one able to fail. The
        # provider already checks the chain id at first contact and after every failover.
        self.w3.middleware_onion.remove("validation")
        self.l1: ChainClient | None = None
        """For `finality: l1`: the client of the L1 chain (set by whoever builds the clients)."""
        self._cross: ChainClient | None = None
        if config.cross_check_url:
            second = config.model_copy(update={"rpc_urls": [config.cross_check_url], "cross_check_url": None})
            self._cross = ChainClient(second, sleep)

    def _rpc(self, method: str, thunk: Callable[[], T]) -> T:
        """Run one web3 call; node-side errors become ChainCallError (RpcUnavailableError passes)."""
        try:
            return thunk()
        except Web3Exception as err:
            raise ChainCallError(self.name, method, str(err)) from err

    def verify_chain_id(self) -> None:
        """WrongChainError if every URL serves another chain than configured (a wrong URL among
        good ones is refused and skipped), ChainCallError if the node answers another id anyway."""
        actual = self._rpc("eth_chainId", lambda: self.w3.eth.chain_id)
        if actual != self.chain_id:
            reason = f"node reports chain id {actual}, configured {self.chain_id}"
            raise ChainCallError(self.name, "eth_chainId", reason)

    def block_number(self) -> BlockNumber:
        """Latest block number."""
        return BlockNumber(self._rpc("eth_blockNumber", lambda: self.w3.eth.block_number))

    def finalized_block(self) -> BlockNumber:
        """Highest block final by this chain's policy (docs/finality.md): the `finalized` or `safe`
        tag, head - confirmations, or for an L2 the last block whose reported L1 block is final."""
        policy = self.config.finality
        if policy == "depth":
            return BlockNumber(max(0, self.block_number() - self.config.confirmations))
        if policy == "l1":
            return self._l1_final_block()
        return BlockNumber(int(self.get_block(policy)["number"]))

    def l1_block_at(self, block: int) -> int:
        """The L1 block number the L2 reports at `block` (`number()` of `l1_block_contract`)."""
        data = bytes.fromhex("8381f58a")  # number()
        to = Web3.to_checksum_address(self.config.l1_block_contract)
        raw = self._rpc("eth_call number()", lambda: self.w3.eth.call({"to": to, "data": data}, block))
        return int.from_bytes(bytes(raw)[:32], "big") if raw else 0

    def _l1_final_block(self) -> BlockNumber:
        """Highest L2 block whose reported L1 block is at or below the L1's final block (binary
        search: the reported L1 block never decreases along the L2 chain)."""
        if self.l1 is None:
            raise ChainCallError(self.name, "finality l1", f"no client for L1 chain {self.config.l1_chain}")
        l1_final = self.l1.finalized_block()
        low, high = 0, int(self.block_number())
        if self.l1_block_at(high) <= l1_final:
            return BlockNumber(high)
        while low < high:  # invariant: block `low` is final (genesis always is), `high` + 1.. are not
            mid = (low + high + 1) // 2
            if self.l1_block_at(mid) <= l1_final:
                low = mid
            else:
                high = mid - 1
        return BlockNumber(low)

    def get_block(self, block: BlockIdentifier, full_transactions: bool = False) -> BlockData:
        """Block header (and transactions) by number, hash or tag; its hash is recomputed from its
        fields (HeaderMismatchError if it does not match)."""
        data = self._rpc("eth_getBlock", lambda: self.w3.eth.get_block(block, full_transactions))
        check_header(self.name, data)
        return data

    def cross_check(self, number: int, block_hash: bytes) -> None:
        """With a `cross_check_url`: HeaderMismatchError unless the second provider has the same
        block at `number`. Without one: nothing."""
        if self._cross is None:
            return
        theirs = bytes(self._cross.get_block(number)["hash"])
        if theirs != bytes(block_hash):
            raise HeaderMismatchError(
                self.name, number, f"second provider has 0x{theirs.hex()}, first 0x{bytes(block_hash).hex()}"
            )

    def request(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call through the provider (failover and retries as for any other), its
        `result` as the node sent it: web3's result formatters (HexBytes, checksums, AttributeDict)
        were most of the CPU of reading a block's receipts or a range's logs, for fields the
        relayer converts itself. ChainCallError on an error answer or no result."""
        response = self.provider.make_request(RPCEndpoint(method), params)
        error = response.get("error") if isinstance(response, dict) else None
        if error is not None:
            text = error.get("message", error) if isinstance(error, dict) else error
            raise ChainCallError(self.name, method, str(text))
        if not isinstance(response, dict) or response.get("result") is None:
            raise ChainCallError(self.name, method, f"no result for {params!r}")
        return response["result"]

    def header(self, block: int | str) -> BlockData:
        """Block header by number or tag, read unformatted and converted here (integers for
        quantities, HexBytes for the rest), its hash recomputed from its fields like `get_block`'s
        (HeaderMismatchError if it does not match). The validator's per-block read."""
        tag = hex(block) if isinstance(block, int) else block
        data = raw_header(self.request("eth_getBlockByNumber", [tag, False]))
        check_header(self.name, data)
        return data

    def block_receipts(self, block: int) -> list[dict[str, Any]]:
        """All receipts of a block, in transaction order (eth_getBlockReceipts), as the node sent
        them (hex text: relayer.proofs.receipts reads them so, and re-encodes them to check them
        against the block's receiptsRoot)."""
        return list(self.request("eth_getBlockReceipts", [hex(block)]))

    def eth_call(self, to: str, data: bytes, block: int | str = "latest", label: str = "") -> bytes:
        """The return data of a call to `to` with calldata `data` at `block` (no ABI work);
        `label` names the call in errors."""
        tag = hex(block) if isinstance(block, int) else block
        try:
            result = self.request("eth_call", [{"to": to, "data": "0x" + data.hex()}, tag])
        except ChainCallError as err:
            raise ChainCallError(self.name, f"eth_call {label}".strip(), err.reason) from err
        return bytes.fromhex(str(result)[2:])

    def call(self, fn: ContractFunction, block: BlockIdentifier = "latest") -> Any:
        """Contract view `fn` evaluated at `block`."""
        return self._rpc(f"eth_call {fn.fn_name}", lambda: fn.call(block_identifier=block))

    def get_logs(
        self, address: str | Sequence[str], topics: Sequence[Any], from_block: int, to_block: int, raw: bool = False
    ) -> list[LogReceipt]:
        """Logs in [from_block, to_block], fetched `log_chunk` blocks per request, in chain order;
        `raw`: as the node sent them (hex text, no web3 formatting; the route scans decode them)."""
        out: list[LogReceipt] = []
        step = self.config.log_chunk
        for start in range(from_block, to_block + 1, step):
            end = min(start + step - 1, to_block)
            if raw:
                query = {"address": _addresses(address), "topics": list(topics), "fromBlock": hex(start),
                         "toBlock": hex(end)}
                out.extend(self.request("eth_getLogs", [query]))
            else:
                params: FilterParams = {
                    "address": _addresses(address),
                    "topics": list(topics),
                    "fromBlock": BlockNumber(start),
                    "toBlock": BlockNumber(end),
                }
                out.extend(self._rpc("eth_getLogs", partial(self.w3.eth.get_logs, params)))
        return out


_QUANTITIES = frozenset({"number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas", "difficulty",
                         "totalDifficulty", "size", "blobGasUsed", "excessBlobGas"})


def raw_header(raw: dict[str, Any]) -> BlockData:
    """An unformatted eth_getBlockByNumber header as web3 would type its fields: integers for
    quantities, HexBytes for hashes and other data (lists, e.g. transaction hashes, left as sent)."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and value.startswith("0x"):
            out[key] = int(value, 16) if key in _QUANTITIES else HexBytes(value)
        else:
            out[key] = value
    return cast(BlockData, AttributeDict(out))
