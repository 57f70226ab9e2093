"""Request and reply bodies of the HTTP API (the read models come from relayer.services)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from relayer.services.accounts import AccountWithMargin, CollateralView
from relayer.services.audit import AuditReport
from relayer.services.fees import TokenFees
from relayer.services.margin import MarginView, PriceView
from relayer.services.routes import RouteStatus
from relayer.types import Address, Bytes32

__all__ = [
    "AccountWithMargin", "AuditReport", "CollateralView", "MarginView", "PriceView", "RouteStatus", "TokenFees",
    "HaltIn", "SignatureAccepted", "SignatureIn",
]


class SignatureIn(BaseModel):
    """A validator's signature over a route checkpoint, as it publishes it."""

    route: str
    """Route id, e.g. `deposit:31338->31337`."""
    nonce: int
    head: Bytes32
    validator: Address
    """The signer the validator claims to be; must match the recovered address."""
    signature: str
    """0x-hex, 65 bytes r || s || v."""

    @field_validator("signature")
    @classmethod
    def _hex65(cls, value: str) -> str:
        """0x-prefixed hex of exactly 65 bytes."""
        raw = value.removeprefix("0x")
        try:
            data = bytes.fromhex(raw)
        except ValueError as err:
            raise ValueError("not hex") from err
        if len(data) != 65:
            raise ValueError(f"expected 65 bytes, got {len(data)}")
        return "0x" + raw.lower()


class HaltIn(BaseModel):
    """A validator's report that it halted a route (signed EIP-191 over relayer.validator.publish.halt_message)."""

    route: str
    validator: Address
    reason: str
    issued_at_ms: int = Field(ge=0)
    """When the validator signed it (unix ms); above its previous report's for the route."""
    signature: str
    """0x-hex, 65 bytes."""

    _hex65 = field_validator("signature")(SignatureIn._hex65.__func__)  # type: ignore[attr-defined]


class SignatureAccepted(BaseModel):
    """Reply to an accepted signature."""

    route: str
    nonce: int
    validator: str
