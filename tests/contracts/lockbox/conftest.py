"""Fixtures for the lockbox contract tests; the helpers live in lockbox_support (a unique module name,
so that the ledger and lockbox test folders never shadow each other's helpers)."""

from lockbox_support import *  # noqa: F401,F403  (fixtures are registered from this namespace)
