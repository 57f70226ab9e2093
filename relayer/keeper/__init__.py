"""Keeper role: follow accounts through market events, liquidate every unhealthy one, and push
oracle prices along a recorded path (devnet and stress tool)."""
