"""What the web view says about where a run came from and what it was asked, in
headless Chromium against ``durable serve`` on SQLite and Postgres: the trigger
(schedule, event source, caller) in the runs list and on the run page, the list
filtered by schedule and by source, the requests sent to a run (replied, rejected,
still queued) and the request action answered by a worker process, and the
continue-as-new generations, each one's page reachable from the others."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import httpx
import pytest

from tests.http.conftest import Processes
from tests.web.conftest import Started

pytestmark = pytest.mark.timeout(120)


def _serve(processes: Processes, started: Started, *args: str, **env: str) -> str:
    return processes.serve(started.url, "-m", "tests.web.flows", *args, **env).url


def _at(url: str, run_id: str, query: str = "") -> str:
    """The run page's address (an id may hold "/": a source's run ids do)."""
    return f"{url}/runs/{urllib.parse.quote(run_id, safe='')}{query}"


def _rows(page: Any) -> list[str]:
    page.wait_for_selector("#list table.runs")
    return page.locator("#list tr[data-run]").evaluate_all("rs => rs.map(r => r.dataset.run)")


def _summary(page: Any) -> dict[str, str]:
    cells = page.locator(".summary tr").evaluate_all(
        "rs => rs.map(r => [r.querySelector('th').innerText, r.querySelector('td').innerText])"
    )
    return dict(cells)


def test_list_shows_and_filters_by_trigger(
    processes: Processes, started: Started, page: Any
) -> None:
    url = _serve(processes, started)
    page.goto(url + "/")
    everything = _rows(page)
    assert set(everything) >= {started.scheduled, started.ordered, started.desk}
    trigger = page.locator(f'#list tr[data-run="{started.scheduled}"] td').nth(4)
    assert trigger.inner_text() == "schedule web-nightly"
    source = page.locator(f'#list tr[data-run="{started.ordered}"] td').nth(4)
    assert source.inner_text() == "source topic:web-orders"
    assert page.locator(f'#list tr[data-run="{started.desk}"] td').nth(4).inner_text() == "-"

    page.fill("#filters [name=schedule]", "web-nightly")
    with page.expect_response(re.compile(r"/ui/runs\?.*schedule=web-nightly")):
        page.click("#filters button")
    assert _rows(page) == [started.scheduled]
    assert page.inner_text('[data-count="SUCCEEDED"]') == "1"
    page.fill("#filters [name=schedule]", "")
    page.fill("#filters [name=source]", "topic:web-orders")
    with page.expect_response(re.compile(r"/ui/runs\?.*source=topic")):
        page.click("#filters button")
    assert _rows(page) == [started.ordered]
    page.fill("#filters [name=source]", "topic:elsewhere")
    with page.expect_response(re.compile(r"/ui/runs\?")):
        page.click("#filters button")
    assert _rows(page) == []


def test_run_page_says_what_started_it(processes: Processes, started: Started, page: Any) -> None:
    url = _serve(processes, started)
    page.goto(_at(url, started.scheduled))
    page.wait_for_selector("article.run")
    said = _summary(page)
    assert said["started by"] == "schedule web-nightly"
    assert said["schedule fired"] == "trigger"
    assert said["schedule tick"] == started.scheduled.split("@", 1)[1]
    # the schedule's name leads to the runs it started
    page.click(".summary a.trigger-link")
    page.wait_for_url(re.compile(r"/\?schedule=web-nightly$"))
    assert _rows(page) == [started.scheduled]

    page.goto(_at(url, started.ordered))
    page.wait_for_selector("article.run")
    said = _summary(page)
    assert said["started by"] == "source topic:web-orders"
    assert said["source records"] == '["1"]'  # the record's position in the topic
    assert said["source deliveries"] == "1"

    page.goto(_at(url, started.hooked))
    page.wait_for_selector("article.run")
    said = _summary(page)
    assert said["started by"].startswith("a caller")
    assert '"ticket": "OPS-12"' in said["metadata"]


def test_requests_replied_rejected_and_queued(
    processes: Processes, started: Started, page: Any
) -> None:
    url = _serve(processes, started)
    page.goto(_at(url, started.desk))
    page.wait_for_selector("article.run")
    page.click('.tab[data-tab="requests"]')
    rows = page.locator("#panel-requests table.requests tr[class^=rq-]")
    assert rows.count() == 3
    cells = rows.evaluate_all("rs => rs.map(r => Array.from(r.cells, c => c.innerText))")
    names, states = [c[0] for c in cells], [c[2] for c in cells]
    assert names == ["approve"] * 3 and states == ["replied", "rejected", "queued"]
    assert [c[5] for c in cells] == ["invoice-7", "invoice-8", "invoice-9"]
    assert cells[0][6] == '{"approved": "invoice-7"}'
    assert cells[1][6] == "rejected: closed for the day"
    assert cells[2][4] == "-" and cells[2][6] == "-"  # nobody took it yet
    # "taken by" jumps to the call that took the request
    page.click("#panel-requests tr.rq-replied a[data-jump]")
    assert page.is_visible("#panel-table")
    assert "flash" in (page.locator("#call-0").get_attribute("class") or "")
    assert page.locator("#call-0 td").nth(1).inner_text() == "request"
    page.click('.tab[data-tab="messages"]')
    said = page.inner_text("#panel-messages")
    for what in ("request taken", "replied", "rejected"):
        assert what in said


def test_request_action_gets_the_workers_reply(
    processes: Processes, started: Started, page: Any
) -> None:
    token = {"Authorization": "Bearer r3q-t0ken"}
    url = _serve(processes, started, "--no-execute", DURABLE_API_TOKEN="r3q-t0ken")
    processes.spawn("--db", started.url, "worker", "tests.web.flows", "--poll", "0.2")
    made = httpx.post(url + "/api/workflows/web.echo/runs", json={"args": [2]}, headers=token)
    assert made.status_code == 201, made.text
    run_id = made.json()["id"]
    refused = httpx.post(f"{url}/api/runs/{run_id}/requests/ask", json="x")
    assert refused.status_code == 401  # the action's endpoint needs the token too
    page.goto(_at(url, run_id))
    page.wait_for_selector("#login:not([hidden])")
    page.fill("#login input", "r3q-t0ken")
    page.click("#login button")
    page.wait_for_selector("article.run")
    page.fill("form.ask [name=request]", "ask")
    page.fill("form.ask [name=value]", '"hello"')
    # another caller's request is answered meanwhile: the page redraws, the typing stays
    other = httpx.post(
        f"{url}/api/runs/{run_id}/requests/ask?wait=30", json="first", headers=token, timeout=40
    )
    assert other.status_code == 200 and other.json()["reply"] == "FIRST", other.text
    page.wait_for_selector("#node-1")  # the reply's entry, drawn by the live update
    assert page.input_value("form.ask [name=request]") == "ask"
    assert page.input_value("form.ask [name=value]") == '"hello"'
    page.click("form.ask button")
    page.wait_for_selector('.action-result:has-text("request ask replied")')
    assert page.inner_text(".action-result") == 'request ask replied: "HELLO"'
    page.wait_for_selector("article.run[data-status='SUCCEEDED']")
    page.click('.tab[data-tab="requests"]')
    page.wait_for_selector("#panel-requests tr.rq-replied >> nth=1")
    cells = page.locator("#panel-requests tr.rq-replied").evaluate_all(
        "rs => rs.map(r => Array.from(r.cells, c => c.innerText))"
    )
    assert [(c[0], c[5], c[6]) for c in cells] == [
        ("ask", "first", "FIRST"),
        ("ask", "hello", "HELLO"),
    ]
    result = httpx.get(f"{url}/api/runs/{run_id}/result", headers=token)
    assert result.status_code == 200, result.text
    assert result.json()["result"] == 2


def test_generations_are_pages_of_their_own(
    processes: Processes, started: Started, page: Any
) -> None:
    url = _serve(processes, started)
    page.goto(_at(url, started.counter))
    page.wait_for_selector("ol.generations")
    assert _summary(page)["generation"] == "3 (continued as new 2 times)"
    items = page.locator("ol.generations li").all_inner_texts()
    assert len(items) == 3 and items[2].startswith("generation 3 (current)")
    assert items[0].startswith("generation 1: 2 calls")  # its step and its continue
    page.click("ol.generations a.generation >> nth=0")
    page.wait_for_url(re.compile(r"\?generation=1$"))
    page.wait_for_selector("article.run[data-generation='1']")
    said = _summary(page)
    assert said["status"] == "continued generation 1 of 3"
    assert said["input"] == "[1, 3]"
    assert page.locator("[data-action], form.send, form.ask").count() == 0  # archived
    assert page.inner_text("#live") == "past generation"
    # the continue call links to the generation it began
    page.click("a.next-generation")
    page.wait_for_url(re.compile(r"\?generation=2$"))
    page.wait_for_selector("article.run[data-generation='2']")
    assert _summary(page)["input"] == "[2, 3]"
    page.click("a.next-generation")  # generation 3 is the current one
    page.wait_for_selector("article.run:not([data-generation])")
    assert _summary(page)["output"] == "3"
    missing = httpx.get(f"{url}/ui/runs/{started.counter}?generation=9")
    assert missing.status_code == 404 and missing.json()["error"] == "generation_not_found"
    assert "generation" in missing.json()["detail"]
    bad = httpx.get(f"{url}/ui/runs/{started.counter}?generation=zero")
    assert bad.status_code == 400 and bad.json()["error"] == "bad_generation"
