"""Postgres for the tests (placeholder until the Postgres journal lands)."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def postgres_cluster() -> str:
    message = "the Postgres journal is not implemented yet"
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def postgres_url(postgres_cluster: str) -> str:
    return postgres_cluster
