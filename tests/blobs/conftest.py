"""Fixtures of the blob tests: a store of each kind (folder, memory, S3 on moto's server)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.sources.services import s3_endpoint  # noqa: F401  (fixture)

STORES = ["file", "memory", "s3"]


class StoreSpec:
    """What an engine needs to use one test store."""

    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        self.url = url
        self.options = options or {}

    def engine_options(self, threshold: int = 65536) -> dict[str, Any]:
        return {"store": self.url, "store_options": self.options, "offload_over": threshold}


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Any) -> StoreSpec:
    """A fresh, empty blob store of each kind."""
    return make_store(str(request.param), request, tmp_path)


@pytest.fixture(params=["file", "s3"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Any) -> StoreSpec:
    """A fresh store that other processes reach too (not memory://)."""
    return make_store(str(request.param), request, tmp_path)


def make_store(kind: str, request: pytest.FixtureRequest, tmp_path: Any) -> StoreSpec:
    if kind == "file":
        return StoreSpec(f"file://{tmp_path}/blobs")
    if kind == "memory":
        return StoreSpec(f"memory://test-{uuid.uuid4().hex}")
    import fsspec

    endpoint = request.getfixturevalue("s3_endpoint")
    options = {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}
    fs = fsspec.filesystem("s3", **options)
    if not fs.exists("durable-blobs"):
        fs.mkdir("durable-blobs")
    return StoreSpec(f"s3://durable-blobs/{uuid.uuid4().hex[:10]}", options)
