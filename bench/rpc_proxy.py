"""A fault-injecting JSON-RPC proxy on loopback: one listening port per chain, forwarding to that
chain's node, that drops, delays and fails a share of the requests and can be taken fully down.

    .venv/bin/python bench/rpc_proxy.py --route 18760=http://127.0.0.1:18750 --route 18761=... \\
        --control-port 18770 --fault-rate 0.1 --seed 7

Per request (HTTP POST, a JSON-RPC call or batch), with probability `fault-rate` split evenly:
  drop   the request is read, then the connection is closed without an answer
  delay  the request is forwarded after 0.3-2.0 s (its answer is real)
  error  the client gets HTTP 503 (half of them) or a JSON-RPC error -32603 (the other half);
         the node never sees the request
Down (`POST /down?seconds=30` on the control port, or `/down` then `/up`): every listening socket
is closed (new connections are refused) and every open connection is closed after its next
request. `GET /stats` on the control port returns the counters as JSON. Used by bench/soak.py.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

DELAY_RANGE_S = (0.3, 2.0)
UPSTREAM_TIMEOUT_S = 30.0
FAULT_KINDS = ("drop", "delay", "error")


@dataclass
class FaultState:
    """What the proxy does now, shared by every route and the control endpoint."""

    fault_rate: float
    rng: random.Random
    down_until: float = 0.0
    """time.monotonic() until which the proxy is down (inf: until /up)."""
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("forwarded", *FAULT_KINDS, "refused"), 0))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def down(self) -> bool:
        """Whether the proxy is fully down now."""
        return time.monotonic() < self.down_until

    def draw(self) -> str | None:
        """The fault for one request (None: forward it untouched)."""
        with self.lock:
            roll = self.rng.random()
        if roll >= self.fault_rate:
            return None
        return FAULT_KINDS[min(int(roll / self.fault_rate * len(FAULT_KINDS)), len(FAULT_KINDS) - 1)]

    def count(self, what: str) -> None:
        """Add one to a counter."""
        with self.lock:
            self.counts[what] += 1


class _Upstreams(threading.local):
    """One keep-alive connection per handler thread and upstream."""

    conns: dict[str, http.client.HTTPConnection]

    def __init__(self) -> None:
        self.conns = {}


_UPSTREAMS = _Upstreams()


def forward(upstream: str, body: bytes) -> tuple[int, bytes]:
    """POST `body` to `upstream` over this thread's connection (reconnecting once); (status, body)."""
    parts = urlsplit(upstream)
    for attempt in range(2):
        conn = _UPSTREAMS.conns.get(upstream)
        if conn is None:
            host, port = parts.hostname or "127.0.0.1", parts.port or 80
            conn = http.client.HTTPConnection(host, port, timeout=UPSTREAM_TIMEOUT_S)
            _UPSTREAMS.conns[upstream] = conn
        try:
            conn.request("POST", parts.path or "/", body, {"Content-Type": "application/json"})
            reply = conn.getresponse()
            return reply.status, reply.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            _UPSTREAMS.conns.pop(upstream, None)
            if attempt:
                raise
    raise AssertionError("unreachable")


def _rpc_error(body: bytes) -> bytes:
    """A JSON-RPC internal error answering `body` (a call or a batch)."""
    try:
        request: Any = json.loads(body)
    except ValueError:
        request = {}
    error = {"code": -32603, "message": "rpc_proxy: injected fault"}
    if isinstance(request, list):
        return json.dumps([{"jsonrpc": "2.0", "id": r.get("id"), "error": error} for r in request]).encode()
    return json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "error": error}).encode()


def handler_for(upstream: str, state: FaultState) -> type[BaseHTTPRequestHandler]:
    """A request handler class forwarding to `upstream` under `state`'s faults."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as web3's session expects

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            return

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if state.down():
                state.count("refused")
                self.close_connection = True
                return
            fault = state.draw()
            if fault == "drop":
                state.count("drop")
                self.close_connection = True  # no answer at all: the client sees the connection end
                return
            if fault == "error":
                state.count("error")
                if state.rng.random() < 0.5:
                    self._answer(503, b'{"error": "rpc_proxy: injected 503"}')
                else:
                    self._answer(200, _rpc_error(body))
                return
            if fault == "delay":
                state.count("delay")
                time.sleep(state.rng.uniform(*DELAY_RANGE_S))
            try:
                status, reply = forward(upstream, body)
            except (OSError, http.client.HTTPException):
                self._answer(502, b'{"error": "rpc_proxy: upstream unreachable"}')
                return
            state.count("forwarded")
            self._answer(status, reply)

    return Handler


class Route:
    """One listening port forwarding to one node; closed while the proxy is down."""

    def __init__(self, port: int, upstream: str, state: FaultState) -> None:
        self.port, self.upstream, self.state = port, upstream, state
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    def open(self) -> None:
        """Listen (again) on the port."""
        if self.server is not None:
            return
        ThreadingHTTPServer.allow_reuse_address = True
        ThreadingHTTPServer.daemon_threads = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), handler_for(self.upstream, self.state))
        self.thread = threading.Thread(target=self.server.serve_forever, name=f"proxy-{self.port}", daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop listening (new connections are refused)."""
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        self.server = None


class Proxy:
    """Every route plus the outage switch."""

    def __init__(self, routes: dict[int, str], fault_rate: float, seed: int) -> None:
        self.state = FaultState(fault_rate=fault_rate, rng=random.Random(seed))
        self.routes = [Route(port, upstream, self.state) for port, upstream in routes.items()]
        self.lock = threading.Lock()
        self.outages = 0

    def start(self) -> None:
        """Open every route."""
        for route in self.routes:
            route.open()

    def go_down(self, seconds: float | None) -> None:
        """Refuse everything for `seconds` (None: until `come_up`)."""
        with self.lock:
            self.outages += 1
            self.state.down_until = float("inf") if seconds is None else time.monotonic() + seconds
            for route in self.routes:
                route.close()
        if seconds is not None:
            threading.Timer(seconds, self.come_up).start()

    def come_up(self) -> None:
        """Serve again."""
        with self.lock:
            self.state.down_until = 0.0
            for route in self.routes:
                route.open()

    def stats(self) -> dict[str, Any]:
        """Counters, outages so far and whether it is down now."""
        with self.state.lock:
            counts = dict(self.state.counts)
        return {**counts, "outages": self.outages, "down": self.state.down(), "fault_rate": self.state.fault_rate}


def control_handler(proxy: Proxy) -> type[BaseHTTPRequestHandler]:
    """The control endpoint: POST /down[?seconds=S], POST /up, POST /rate?value=R, GET /stats."""

    class Control(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

        def _json(self, body: dict[str, Any], status: int = 200) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            self._json(proxy.stats())

        def do_POST(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/down":
                proxy.go_down(float(query["seconds"]) if "seconds" in query else None)
            elif url.path == "/up":
                proxy.come_up()
            elif url.path == "/rate":
                proxy.state.fault_rate = float(query["value"])
            else:
                self._json({"error": f"unknown {url.path}"}, 404)
                return
            self._json(proxy.stats())

    return Control


def main(argv: list[str] | None = None) -> int:
    """Serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--route", action="append", required=True, help="LISTEN_PORT=UPSTREAM_URL (repeatable)")
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--fault-rate", type=float, default=0.1, help="share of requests dropped, delayed or failed")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    routes = {int(port): upstream for port, upstream in (r.split("=", 1) for r in args.route)}
    proxy = Proxy(routes, args.fault_rate, args.seed)
    proxy.start()
    control = ThreadingHTTPServer(("127.0.0.1", args.control_port), control_handler(proxy))
    print(f"rpc_proxy: {len(routes)} routes, fault rate {args.fault_rate}, control on {args.control_port}", flush=True)
    control.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
