"""The web view in headless Chromium against ``durable serve`` processes, on SQLite and
Postgres: the runs list and its filters, a failed run's banner and timeline, a race's
losers, a child's link, a fan-out folded and expanded, live updates while a worker
process executes the run, an action refused without the token and accepted with it,
and the audit file opened from disk with the network cut."""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import subprocess
import sys
from typing import Any

import httpx
import pytest

import durable
from tests.http.conftest import ROOT, Processes, _env
from tests.web import flows
from tests.web.conftest import Journal

pytestmark = pytest.mark.timeout(120)


def _serve(processes: Processes, journal: Journal, *args: str, **env: str) -> str:
    return processes.serve(journal.url, "-m", "tests.web.flows", *args, **env).url


def _rows(page: Any) -> list[str]:
    page.wait_for_selector("#list table.runs")
    return page.locator("#list tr[data-run]").evaluate_all("rs => rs.map(r => r.dataset.run)")


def _apply(page: Any, **fields: str) -> list[str]:
    for name, value in fields.items():
        selector = f"#filters [name={name}]"
        if name == "status":
            page.select_option(selector, value)
        else:
            page.fill(selector, value)
    with page.expect_response(re.compile(r"/ui/runs\?")):
        page.click("#filters button")
    return _rows(page)


def test_runs_list_filters(processes: Processes, journal: Journal, page: Any) -> None:
    url = _serve(processes, journal)
    page.goto(url + "/")
    everything = _rows(page)
    assert set(everything) >= {journal.fan_out, journal.failing, journal.racer, journal.tree}
    assert len(everything) == 5 + len(journal.children)
    assert page.inner_text('[data-count="FAILED"]') == "1"
    assert page.inner_text('[data-count="SUCCEEDED"]') == str(len(everything) - 1)
    assert _apply(page, status="FAILED") == [journal.failing]
    assert _apply(page, status="", name="web.racer") == [journal.racer]
    assert _apply(page, name="", queue="reports") == [journal.queued]
    # the id search matches part of an id: the tree's children hold its id
    assert set(_apply(page, queue="", q=journal.tree[:10])) == {journal.tree, *journal.children}
    assert _apply(page, q="", to="2000-01-01T00:00:00") == []
    assert page.is_visible("text=no run matches")
    assert _apply(page, to="", **{"from": "2000-01-01T00:00:00"}) == everything


def test_list_pages_with_the_cursor(processes: Processes, journal: Journal, page: Any) -> None:
    url = _serve(processes, journal)
    page.goto(url + "/?limit=3")
    first = _rows(page)
    assert len(first) == 3
    with page.expect_response(re.compile(r"/ui/runs\?.*cursor=")):
        page.click(".next-page")
    page.wait_for_function(
        "first => !first.includes(document.querySelector('#list tr[data-run]').dataset.run)",
        arg=first,
    )
    second = _rows(page)
    assert len(second) == 3 and not set(first) & set(second)


def test_failed_run_banner_and_timeline(processes: Processes, journal: Journal, page: Any) -> None:
    url = _serve(processes, journal)
    page.goto(f"{url}/runs/{journal.failing}")
    page.wait_for_selector(".banner")
    said = page.inner_text(".banner")
    assert "web.flaky" in said and "upstream billing refused the connection" in said
    page.click(".banner")
    assert page.is_visible("#panel-table")
    row = page.locator("#call-1")
    assert "flash" in (row.get_attribute("class") or "")
    assert row.locator("td").nth(4).inner_text() == "3"  # tries
    page.click('.tab[data-tab="timeline"]')
    track = page.locator("#tl-1")
    assert track.locator(".bar.fail").count() == 3  # two retried attempts and the last
    assert track.locator(".bar.gap").count() == 2  # the backoff before attempts 2 and 3
    gap = track.locator(".bar.gap").first.get_attribute("title") or ""
    assert gap.startswith("backoff") and "before attempt 2" in gap
    assert track.locator(".tl-errors .err").count() == 3


def test_race_shows_winner_and_cancelled_losers(
    processes: Processes, journal: Journal, page: Any
) -> None:
    url = _serve(processes, journal)
    page.goto(f"{url}/runs/{journal.racer}")
    page.wait_for_selector(".graph")
    race = page.locator(".node.k-race")
    assert "2 cancelled" in race.inner_text()
    winner = page.locator(".node:has(.mark.win)")
    assert "web.quick" in winner.inner_text()
    losers = page.locator(".node:has(.mark.lost)")
    assert losers.count() == 2
    assert {"web.slow", "sleep"} <= {
        n for text in losers.all_inner_texts() for n in ("web.slow", "sleep") if n in text
    }


def test_child_node_opens_and_links_to_its_run(
    processes: Processes, journal: Journal, page: Any
) -> None:
    url = _serve(processes, journal)
    page.goto(f"{url}/runs/{journal.tree}")
    page.wait_for_selector("details.child")
    assert page.locator("details.child").count() == 3
    page.locator("details.child summary .kind").first.click()  # opens it: its graph is fetched
    page.wait_for_selector("details.child[open] .child-graph .node")
    link = page.locator("details.child[open] summary a.run-link").first
    target = link.get_attribute("data-run")
    assert target in journal.children
    link.click()
    page.wait_for_url(f"**/runs/{target}")
    page.wait_for_selector(f'article[data-id="{target}"]')
    assert page.locator(".summary a.run-link", has_text=journal.tree).count() == 1


def test_fan_out_is_folded_and_expands(processes: Processes, journal: Journal, page: Any) -> None:
    url = _serve(processes, journal)
    page.goto(f"{url}/runs/{journal.fan_out}")
    page.wait_for_selector(".node.bucket summary")
    assert re.search(r"web\.fetch \u00d7 40: 40 ok", page.inner_text(".node.bucket summary"))
    page.click('.tab[data-tab="table"]')
    assert page.locator("tbody.bucket tr.s-ok").count() == 0  # folded: nothing failed
    with page.expect_response(re.compile(r"/calls\?")):
        page.click("tbody.bucket .expand")
    page.wait_for_selector("tbody.bucket.open tr.s-ok")
    assert page.locator("tbody.bucket tr.s-ok").count() == 40
    assert '"page": 39' in page.inner_text("tbody.bucket")


def test_live_updates_while_a_worker_executes(
    processes: Processes, journal: Journal, page: Any
) -> None:
    url = _serve(processes, journal, "--no-execute")
    processes.spawn("--db", journal.url, "worker", "tests.web.flows", "--poll", "0.2")
    started = httpx.post(url + "/api/workflows/web.stepper/runs", json={"args": [2]})
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    page.goto(f"{url}/runs/{run_id}")
    page.wait_for_selector("article.run")
    page.wait_for_selector("#live:text('live')")
    for i in range(2):
        sent = httpx.post(f"{url}/api/runs/{run_id}/messages", json={"topic": "next"})
        assert sent.status_code == 202, sent.text
        # the fetch journaled by the worker appears without a reload
        page.wait_for_selector(f"#node-{2 * i + 1}:has-text('web.fetch')")
    page.wait_for_selector("article.run[data-status='SUCCEEDED']")
    page.wait_for_selector("#live:text('finished')")


def test_action_needs_the_token(processes: Processes, journal: Journal, page: Any) -> None:
    url = _serve(processes, journal, DURABLE_API_TOKEN="w3b-t0ken")
    started = httpx.post(
        url + "/api/workflows/web.stepper/runs",
        json={"args": [1]},
        headers={"Authorization": "Bearer w3b-t0ken"},
    )
    run_id = started.json()["id"]
    page.goto(f"{url}/runs/{run_id}")
    page.wait_for_selector("#login:not([hidden])")
    assert page.locator("article.run").count() == 0  # no data without the token
    refused = page.evaluate(
        "id => fetch('api/runs/' + id + '/cancel', {method: 'POST'}).then(r => r.status)", run_id
    )
    assert refused == 401
    page.fill("#login input", "not-the-token")
    page.click("#login button")
    page.wait_for_selector("#login .login-error:text('refused')")
    page.fill("#login input", "w3b-t0ken")
    page.click("#login button")
    page.wait_for_selector("article.run")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click('[data-action="cancel"]')
    page.wait_for_selector("article.run[data-status='CANCELLED']")
    shown = httpx.get(f"{url}/api/runs/{run_id}", headers={"Authorization": "Bearer w3b-t0ken"})
    assert shown.json()["status"] == "CANCELLED"


def test_audit_file_opens_offline(journal: Journal, page: Any, tmp_path: Any) -> None:
    path = tmp_path / "run.html"
    path.write_text(_show_html(journal, journal.failing), encoding="utf-8")
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    page.context.set_offline(True)
    page.goto(path.as_uri())
    assert page.is_visible(".banner")
    assert page.locator("#tl-1 .bar.fail").count() == 3
    assert page.locator("table.calls #call-1").count() == 1
    assert page.locator("button.fork, .actions").count() == 0
    # a folded fan-out opens with the file's own inline script, offline too
    fan_out = tmp_path / "fan-out.html"
    fan_out.write_text(_show_html(journal, journal.fan_out), encoding="utf-8")
    page.goto(fan_out.as_uri())
    assert page.locator("tbody.bucket tr.s-ok:visible").count() == 0
    page.click("tbody.bucket .expand")
    assert page.locator("tbody.bucket tr.s-ok:visible").count() == 40
    assert asked == [path.as_uri(), fan_out.as_uri()]


def _show_html(journal: Journal, run_id: str) -> str:
    written = subprocess.run(
        [sys.executable, "-m", "durable.cli", "--db", journal.url, "show", run_id, "--html"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert written.returncode == 0, written.stderr
    return written.stdout


def test_fork_from_a_chosen_call_and_download(
    processes: Processes, journal: Journal, page: Any, tmp_path: Any
) -> None:
    url = _serve(processes, journal)
    page.goto(f"{url}/runs/{journal.failing}")
    page.wait_for_selector("article.run")
    page.click('.tab[data-tab="table"]')
    asked: list[str] = []

    def confirm(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", confirm)
    page.click("#call-1 button.fork")
    link = page.wait_for_selector(".action-result a.new-run")
    assert asked == ["Fork a new run that reuses the calls before #1 and runs again from call #1?"]
    forked = (link.inner_text()).removeprefix(" open ").strip()
    assert forked and forked != journal.failing
    copied = httpx.get(f"{url}/api/runs/{forked}/history").json()["entries"]
    assert [e["seq"] for e in copied][:1] == [0]  # the call before #1, reused
    with page.expect_download() as download:
        page.click("button.download")
    saved = tmp_path / "audit.html"
    download.value.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert "default-src 'none'" in text and "upstream billing refused the connection" in text


def test_ten_thousand_calls_fold_into_one_line(
    processes: Processes, db_url: str, page: Any
) -> None:
    run_id = _crawl(db_url, 10_000)
    url = processes.serve(db_url, "-m", "tests.web.flows").url
    page.goto(f"{url}/runs/{run_id}")
    page.wait_for_selector(".node.bucket summary")
    said = page.inner_text(".node.bucket summary")
    assert "web.page \u00d7 10,000: 9,990 ok, 10 failed" in said
    page.click('.tab[data-tab="table"]')
    failed = page.locator("tbody.bucket tr.s-error")
    assert failed.count() == 10  # listed while folded
    assert "page 9999 timed out" in failed.last.inner_text()
    assert page.locator("tbody.bucket tr.s-ok").count() == 0
    page.click("tbody.bucket .expand")
    page.wait_for_selector("tbody.bucket.open .more-row button.more")
    assert page.locator("tbody.bucket tr.s-ok, tbody.bucket tr.s-error").count() == 500
    page.click("tbody.bucket .more")
    page.wait_for_function(
        "() => document.querySelectorAll('tbody.bucket tr[id^=call-]').length === 1000"
    )


def _crawl(db_url: str, n: int) -> str:
    async def run() -> str:
        async with durable.Engine(db_url, poll_interval=0) as engine:
            started = await engine.start(flows.crawl, n)
            assert await started.result() == n - n // 1000
            return started.id

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()
