"""Which of the web view's paths the token guards: the pages and their assets hold no
journal data and are open; every fragment and the audit file need the token."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.http.conftest import Processes
from tests.web.conftest import Journal

TOKEN = "w3b-t0ken"


@pytest.fixture
def url(processes: Processes, journal: Journal) -> str:
    served = processes.serve(journal.url, "-m", "tests.web.flows", DURABLE_API_TOKEN=TOKEN)
    return served.url


def test_pages_are_open_and_hold_no_data(url: str, journal: Journal) -> None:
    for path in ("/", f"/runs/{journal.failing}", "/static/web.js", "/static/web.css"):
        response = httpx.get(url + path)
        assert response.status_code == 200, path
        assert "upstream billing" not in response.text
    page = httpx.get(url + "/")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert httpx.get(url + "/static/../api/runs").status_code in (401, 404)
    assert httpx.get(url + "/static/secret.py").status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/ui/runs", "/ui/runs/{id}", "/ui/runs/{id}/graph", "/ui/runs/{id}/export"],
)
def test_fragments_need_the_token(url: str, journal: Journal, path: str) -> None:
    target = url + path.format(id=journal.failing)
    refused = httpx.get(target)
    assert refused.status_code == 401
    assert refused.json()["error"] == "unauthorized"
    wrong = httpx.get(target, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    allowed = httpx.get(target, headers={"Authorization": f"Bearer {TOKEN}"})
    assert allowed.status_code == 200


def test_bad_filters_are_json_errors(url: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for query, code in [
        ("status=DONE", "bad_status"),
        ("from=yesterday", "bad_time"),
        ("limit=0", "bad_limit"),
        ("cursor=zzz", "bad_cursor"),
    ]:
        response = httpx.get(f"{url}/ui/runs?{query}", headers=headers)
        assert response.status_code == 400, query
        assert response.json()["error"] == code
    missing = httpx.get(f"{url}/ui/runs/no-such-run", headers=headers)
    assert missing.status_code == 404


async def test_pages_work_under_a_mount_prefix(api_factory: Any) -> None:
    served = await api_factory(mount="/durable", tokens=[TOKEN])
    async with served.client() as client:
        page = await client.get(served.url + "/")
        assert page.status_code == 200
        assert '<base href="/durable/">' in page.text  # the page's URLs are relative to it
        assert (await client.get(served.url + "/static/web.js")).status_code == 200
        assert (await client.get(served.url + "/ui/runs")).status_code == 401
    async with served.client(TOKEN) as client:
        assert (await client.get(served.url + "/ui/runs")).status_code == 200
