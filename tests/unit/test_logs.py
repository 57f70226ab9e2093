"""Structured logs: route, chain, nonce range and tx hash travel as fields; JSON lines on request."""

from __future__ import annotations

import json
import logging

import pytest

from relayer.logs import LOG_FORMAT_ENV, FieldsFormatter, JsonFormatter, formatter


def _record(**fields: object) -> logging.LogRecord:
    record = logging.LogRecord("relayer.submitter.service", logging.INFO, __file__, 1,
                               "route %s: delivered nonces %d..%d", ("deposit:31338->31337", 4, 9), None)
    for name, value in fields.items():
        setattr(record, name, value)  # what logging's `extra=` does
    return record


FIELDS = {"route": "deposit:31338->31337", "chain": 31337, "nonce_first": 4, "nonce_last": 9, "tx_hash": "0xab"}


def test_text_lines_end_with_their_fields() -> None:
    line = FieldsFormatter("%(levelname)s %(message)s").format(_record(**FIELDS))
    assert line == ("INFO route deposit:31338->31337: delivered nonces 4..9 route=deposit:31338->31337 chain=31337 "
                    "nonce_first=4 nonce_last=9 tx_hash=0xab")
    assert FieldsFormatter("%(message)s").format(_record()) == "route deposit:31338->31337: delivered nonces 4..9"


def test_json_lines_carry_fields_as_keys() -> None:
    line = json.loads(JsonFormatter().format(_record(**FIELDS)))
    assert line["message"] == "route deposit:31338->31337: delivered nonces 4..9" and line["level"] == "INFO"
    assert {k: line[k] for k in FIELDS} == FIELDS


def test_the_environment_chooses_the_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LOG_FORMAT_ENV, "json")
    assert isinstance(formatter(), JsonFormatter)
    monkeypatch.setenv(LOG_FORMAT_ENV, "text")
    assert isinstance(formatter(), FieldsFormatter)
    monkeypatch.delenv(LOG_FORMAT_ENV)
    assert isinstance(formatter(), FieldsFormatter)
