"""Errors of the margin mirror and the keeper (subgroup of the relayer's exception tree)."""


class MarginError(Exception):
    """Root of margin-engine errors in Python (attach under `relayer.errors` when it lands)."""


class MarginInputError(MarginError):
    """An input outside the domain the contracts accept (e.g. zero skew scale)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"invalid margin input: {what}")
        self.what = what
