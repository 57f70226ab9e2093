"""A tiny JSON-RPC proxy on loopback that forwards to a real node and lies on demand: another chain
id (or an error instead of it, once), a header whose hash is not its fields', or a self-consistent
header that does not link to its parent."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import requests

from relayer.chain.headers import header_hash

Lie = Literal["chain_id", "chain_id_error", "hash", "parent"]
_BLOCK_METHODS = ("eth_getBlockByNumber", "eth_getBlockByHash")


class LyingRpc:
    """Forwards every request to `upstream`; `lie` (with an optional `target` block) tampers with the answer."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.lie: Lie | None = None
        self.target: int | None = None
        self.tampered = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                answer = requests.post(proxy.upstream, json=body, timeout=10).json()
                proxy._tamper(body, answer)
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _tamper(self, request: dict[str, Any], answer: dict[str, Any]) -> None:
        method, result = request.get("method"), answer.get("result")
        if self.lie == "chain_id" and method == "eth_chainId":
            answer["result"] = hex(1)
            self.tampered += 1
        elif self.lie == "chain_id_error" and method == "eth_chainId":  # a faulty proxy's answer, once
            answer.pop("result", None)
            answer["error"] = {"code": -32603, "message": "injected fault"}
            self.tampered += 1
            self.lie = None
        elif self.lie in ("hash", "parent") and method in _BLOCK_METHODS and isinstance(result, dict):
            if self.target is not None and int(result["number"], 16) != self.target:
                return
            if self.lie == "hash":
                result["stateRoot"] = "0x" + "11" * 32  # hash left as it was: no longer the fields' hash
            else:
                result["parentHash"] = "0x" + "22" * 32
                result["hash"] = "0x" + header_hash(result).hex()  # consistent, but linked to nothing
            self.tampered += 1

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
