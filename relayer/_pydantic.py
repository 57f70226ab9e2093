"""pydantic conventions shared by the settings and the deployment record."""

from __future__ import annotations

from pydantic import ConfigDict, ValidationError

strict = ConfigDict(extra="forbid", hide_input_in_errors=True)
"""Unknown keys rejected; inputs left out of error texts (they may be keys)."""


def problems(err: ValidationError) -> list[tuple[str, str]]:
    """(dotted field path, message) per error; input values are left out (they may be keys)."""
    return [(".".join(str(p) for p in e["loc"]) or "<root>", e["msg"]) for e in err.errors(include_input=False)]
