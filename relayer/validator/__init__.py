"""Validator role: verify finalized route messages on the source chain, sign checkpoints, publish them."""
