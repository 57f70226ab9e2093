"""Errors of the margin mirror and the keeper: the `MarginError` branch of `relayer.errors`."""

from relayer.errors import KeeperError, MarginError, MarginInputError

__all__ = ["KeeperError", "MarginError", "MarginInputError"]
