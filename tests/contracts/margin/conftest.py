"""Fixtures for the margin contract tests; the helpers live in margin_support and
margin_vault_support (unique module names, so that the test folders never shadow each other's
helpers)."""

from margin_vault_support import *  # noqa: F401,F403

from margin_support import *  # noqa: F401,F403  (fixtures are registered from this namespace)
