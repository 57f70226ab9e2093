"""The embedded devnet: three anvil chains, Redis, contracts, validators, relayer, scenario."""
