"""Fixtures of the margin-engine contract tests (oracle, markets, risk engine, liquidation)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    """Every test starts from the module's deployed state."""


@pytest.fixture(scope="module")
def gov(accounts):
    return accounts[0]


@pytest.fixture(scope="module")
def oracle(PriceOracle, gov):
    return PriceOracle.deploy(gov, {"from": gov})


@pytest.fixture(scope="module")
def eth_agg(MockAggregatorV3, gov):
    return MockAggregatorV3.deploy(8, {"from": gov})
