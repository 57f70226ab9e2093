"""Use cases the CLI, the HTTP API, the workers and the devnet call.

Accounts, routes, transfers, trading, audit, signatures."""
