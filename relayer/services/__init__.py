"""Use cases the CLI, the HTTP API, the workers and the devnet call: accounts, routes, transfers, trading, audit, signatures."""
