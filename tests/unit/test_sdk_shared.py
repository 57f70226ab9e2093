"""The parts the sync Client and the AsyncClient share: API error replies, server-sent event frames,
the ABI encoding of offline contracts."""

from __future__ import annotations

import json

import pytest

from relayer.chain.abi import build_dir
from relayer.sdk import ApiRequestError, PendingEvent, RoutesEvent
from relayer.sdk.shared import SseDecoder, api_error, calldata, offline


def test_a_v1_error_reply_keeps_its_code_and_message() -> None:
    err = api_error(400, json.dumps({"error": {"code": "bad_address", "message": "not an address: 'x'"}}))
    assert isinstance(err, ApiRequestError)
    assert (err.status, err.code, err.message) == (400, "bad_address", "not an address: 'x'")


def test_a_reply_that_is_not_v1_json_is_an_http_error_with_its_text() -> None:
    err = api_error(502, "<html>Bad Gateway</html>")
    assert (err.code, err.message) == ("http_error", "<html>Bad Gateway</html>")


def test_sse_frames_become_typed_events_and_unknown_kinds_are_skipped() -> None:
    decoder = SseDecoder()
    pending = {"address": "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955", "deposits": [], "withdrawals": []}
    lines = ["event: routes", "data: []", "", ": keep-alive", "event: error", 'data: {"code": "unavailable"}',
             "event: pending", f"data: {json.dumps(pending)}"]
    events = [e for e in (decoder.feed(line) for line in lines) if e is not None]
    assert events == [RoutesEvent(routes=[]), PendingEvent.model_validate({"pending": pending})]


@pytest.mark.skipif(not (build_dir() / "ERC20.json").exists(), reason="contract artifacts missing")
def test_offline_contracts_encode_calls_without_a_provider() -> None:
    token = offline("ERC20", "0x" + "11" * 20)
    data = calldata(token, "approve", "0x" + "22" * 20, 5)
    assert data[:4].hex() == "095ea7b3"  # approve(address,uint256)
    assert data[4:] == bytes(12) + bytes.fromhex("22" * 20) + (5).to_bytes(32, "big")
