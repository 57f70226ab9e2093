"""Fixtures for the ledger contract tests; the helpers live in ledger_support (a unique module name,
so that the ledger and lockbox test folders never shadow each other's helpers)."""

from ledger_support import *  # noqa: F401,F403  (fixtures are registered from this namespace)
