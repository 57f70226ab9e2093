"""Web3 contract bindings by name, with the ABIs of relayer.chain.abi."""

from __future__ import annotations

from web3 import Web3
from web3.contract import Contract

from relayer.chain.abi import abi_of
from relayer.chain.client import ChainClient


def contract(client: ChainClient, name: str, address: str) -> Contract:
    """Web3 contract `name` at `address` on `client`'s chain."""
    return client.w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi_of(name))


def lockbox(client: ChainClient, address: str) -> Contract:
    """The Lockbox at `address` (a spoke, or the hub if it has one)."""
    return contract(client, "Lockbox", address)


def ledger(client: ChainClient, address: str) -> Contract:
    """The MarginLedger at `address` on the hub."""
    return contract(client, "MarginLedger", address)


def erc20(client: ChainClient, address: str) -> Contract:
    """An ERC20 token (OpenZeppelin's ABI: its ERC-6093 errors decode too)."""
    return contract(client, "ERC20", address)


def inflow_limiter(client: ChainClient, address: str) -> Contract:
    """The ledger's InflowLimiter module (buckets and queued deposits per (spoke, asset))."""
    return contract(client, "InflowLimiter", address)
