"""Structured logs: the fields a line concerns (route, chain, nonce range, tx hash, ...) travel as
logging `extra=` fields; they are printed after the message as `key=value`, or the whole line is
one JSON object when $XMARGIN_LOG_FORMAT=json (for log shippers)."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

LOG_FORMAT_ENV = "XMARGIN_LOG_FORMAT"
"""`text` (default) or `json`."""
FIELDS = ("route", "chain", "nonce", "nonce_first", "nonce_last", "tx_hash", "sender", "account", "validator",
          "lease")
"""Record attributes that are printed as fields when a line carries them."""
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a record carries (those of FIELDS that were passed as `extra`)."""
    return {name: getattr(record, name) for name in FIELDS if getattr(record, name, None) is not None}


class FieldsFormatter(logging.Formatter):
    """The usual text line followed by ` key=value` for each structured field."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = record_fields(record)
        return text + "".join(f" {k}={v}" for k, v in fields.items()) if fields else text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the structured fields, any exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **record_fields(record),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def json_logs() -> bool:
    """Whether $XMARGIN_LOG_FORMAT asks for JSON lines."""
    return os.environ.get(LOG_FORMAT_ENV, "text").strip().lower() == "json"


def formatter(text_format: str | None = None) -> logging.Formatter:
    """The formatter the environment asks for (text keeps `text_format`, Celery's or ours)."""
    return JsonFormatter() if json_logs() else FieldsFormatter(text_format or TEXT_FORMAT)


def install(logger: logging.Logger) -> None:
    """Give every handler of `logger` the structured formatter (keeping a text handler's format)."""
    for handler in logger.handlers:
        current = handler.formatter
        handler.setFormatter(formatter(current._fmt if current is not None else None))  # noqa: SLF001


def configure_logging(level: int = logging.INFO) -> None:
    """Root logging for a service process: a stderr handler if none, structured formatting."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format=TEXT_FORMAT)
    root.setLevel(min(root.level or level, level))
    install(root)
