"""Schemathesis against ``/openapi.json`` of a real ``durable serve`` process, on both
backends: no generated request (valid or not) gets a 5xx.  Bounded and derandomized,
so CI runs the same requests every time."""

from __future__ import annotations

import uuid

import hypothesis
import psycopg
import pytest
import schemathesis
from psycopg import sql

from tests.conftest import BACKENDS
from tests.http.conftest import Processes


@pytest.fixture(scope="module", params=BACKENDS)
def fuzzed_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    schema_name = f"fuzz_{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite":
        db_url = f"sqlite:///{tmp_path_factory.mktemp('fuzz')}/journal.db"
    else:
        cluster = request.getfixturevalue("postgres_cluster")
        db_url = f"{cluster}{'&' if '?' in cluster else '?'}schema={schema_name}"
    spawned = Processes()
    try:
        yield spawned.serve(db_url, "-m", "tests.http.flows", "--no-execute").url
    finally:
        spawned.stop()
        if request.param == "postgres":
            with psycopg.connect(cluster, autocommit=True) as conn:
                ident = sql.Identifier(schema_name)
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(ident))


@pytest.fixture
def api_schema(fuzzed_server: str):
    return schemathesis.openapi.from_url(f"{fuzzed_server}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis.settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_no_request_gets_a_server_error(case) -> None:
    response = case.call(timeout=30)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text)
    [content_type] = response.headers["content-type"]
    assert content_type.startswith(("application/json", "text/event-stream")), content_type
