"""Starting a workflow the API server never imported: ``durable serve --no-execute``
without the workflow's module, and a ``durable worker`` process that imports it and
records it (with its queue) in the journal's catalog when it opens.  The server starts
the run on the workflow's queue and the worker executes it; ``GET /api/workflows``
lists what can be started; a name nobody recorded is still a 404."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.http.conftest import Processes

pytestmark = pytest.mark.timeout(120)


def _catalog(url: str) -> dict[str, dict[str, object]]:
    listed = httpx.get(url + "/api/workflows")
    assert listed.status_code == 200, listed.text
    return {w["name"]: w for w in listed.json()["workflows"]}


def test_a_server_starts_what_only_a_worker_imported(processes: Processes, db_url: str) -> None:
    served = processes.serve(db_url, "--no-execute")  # imports no workflow module
    before = _catalog(served.url)
    assert "http.report" not in before
    unknown = httpx.post(served.url + "/api/workflows/http.report/runs", json={"args": ["may"]})
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_workflow"
    assert "no worker of this journal has recorded it" in unknown.json()["detail"]

    processes.worker(db_url)  # imports tests.http.flows, records its workflows when it opens
    deadline = time.monotonic() + 60
    while "http.report" not in (known := _catalog(served.url)):
        assert time.monotonic() < deadline, f"the worker recorded no workflow: {known}"
        time.sleep(0.1)
    report = known["http.report"]
    assert report["queue"] == "reports" and report["imported_here"] is False
    assert isinstance(report["seen_by"], str) and report["seen_at"]

    made = httpx.post(served.url + "/api/workflows/http.report/runs", json={"args": ["may"]})
    assert made.status_code == 201, made.text
    run = made.json()
    assert run["queue"] == "reports"  # the workflow's queue, as the worker recorded it
    done = httpx.get(f"{served.url}/api/runs/{run['id']}/result", params={"wait": 60}, timeout=70)
    assert done.status_code == 200, done.text
    assert done.json()["result"] == "report of may"
    # a name given explicitly a queue keeps it; a typo is still refused
    other = httpx.post(
        served.url + "/api/workflows/http.report/runs", json={"args": ["june"], "queue": "adhoc"}
    )
    assert other.status_code == 201 and other.json()["queue"] == "adhoc"
    typo = httpx.post(served.url + "/api/workflows/http.reprot/runs", json={"args": ["x"]})
    assert typo.status_code == 404 and "http.report" in typo.json()["detail"]
