"""Pure proof logic (no I/O): the route hash chain, EIP-712 checkpoints, receipt trie proofs."""
