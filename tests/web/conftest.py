"""Fixtures of the web view's tests: a journal holding runs in many states, ``durable
serve`` on it as a real process, and headless Chromium (Debian's ``chromium``, driven
by Playwright) that screenshots the pages it saw into ``.artifacts/web/``."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import durable
from tests.http.conftest import Processes, api_factory, processes  # noqa: F401  (fixtures)
from tests.web import flows

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = pathlib.Path(__file__).resolve().parents[2] / ".artifacts" / "web"


@dataclass
class Journal:
    """The runs the tests look at, by what they show."""

    url: str
    fan_out: str
    failing: str
    racer: str
    tree: str
    queued: str
    children: list[str]


async def _fill(url: str) -> Journal:
    async with durable.Engine(url, poll_interval=0) as engine:
        ids = {}
        for key, workflow, args in [
            ("fan_out", flows.fan_out, (40,)),
            ("failing", flows.failing, ("billing",)),
            ("racer", flows.racer, ()),
            ("tree", flows.tree, (3,)),
        ]:
            run = await engine.start(workflow, *args)
            ids[key] = run.id
            try:
                await run.result()
            except durable.WorkflowFailed:
                pass
        queued = await engine.start(flows.leaf, 7, queue="reports")
        await queued.result()
        children = [r.id for r in await engine.list(name="web.leaf") if r.parent_id]
        return Journal(url, queued=queued.id, children=children, **ids)


@pytest.fixture
def journal(db_url: str) -> Journal:
    """The test's journal, holding a finished fan-out of 40, a run failed by a retried
    step, a race, a tree of 3 children and a run on queue ``reports``."""
    # in a thread of its own: Playwright's sync API keeps an event loop in this one
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _fill(db_url)).result()


@pytest.fixture
def chromium() -> Iterator[Any]:
    """Chromium, launched for each test: Playwright's sync API holds an event loop in
    this thread while it runs, which must not overlap the session fixtures' own
    (the Postgres template is built with ``asyncio.run``)."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser tab; screenshotted into ``.artifacts/web/`` at the end."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = request.node.name.replace("[", "-").replace("]", "")
    try:
        tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        context.close()


@dataclass
class Started:
    """Runs that show what started them, their requests and their generations."""

    url: str
    desk: str  # a request replied, one rejected, one still queued
    counter: str  # continued as new twice: generations 1 and 2 archived, 3 current
    scheduled: str  # fired by schedule web-nightly
    ordered: str  # started by a record of the journal's topic web-orders
    hooked: str  # started by a caller, tagged by its metadata


async def _wait_for_source_run(engine: durable.Engine) -> str:
    for _ in range(200):
        runs = await engine.list(name="web.on_order")
        if runs and runs[0].status == durable.Status.SUCCEEDED:
            return runs[0].id
        await asyncio.sleep(0.05)
    raise AssertionError(f"the topic's record started no finished run: {runs}")


async def _fill_started(url: str) -> Started:
    from durable.sources import registry

    durable.workflow(name="web.on_order", on=durable.Topic("web-orders"))(flows.on_order)
    try:
        async with durable.Engine(url, poll_interval=0) as engine:
            desk = await engine.start(flows.desk)
            assert await engine.request(desk.id, "approve", "invoice-7", timeout=30) == {
                "approved": "invoice-7"
            }
            with pytest.raises(durable.Rejected):
                await engine.request(desk.id, "approve", "invoice-8", timeout=30)
            with pytest.raises(TimeoutError):  # the run waits for a message: it stays queued
                await engine.request(desk.id, "approve", "invoice-9", timeout=0.2)
            counter = await engine.start(flows.counter, 1, 3)
            assert await counter.result() == 3
            await engine.schedules.create(
                "web-nightly", flows.leaf, cron="0 3 * * *", args=(5,), paused=True
            )
            scheduled = await engine.schedules.trigger("web-nightly")
            assert await scheduled.result() == 5
            await engine.publish("web-orders", [{"id": 3}])
            ordered = await _wait_for_source_run(engine)
            hooked = await engine.start(flows.leaf, 1, metadata={"ticket": "OPS-12"})
            await hooked.result()
    finally:
        registry.unregister("web.on_order")
    return Started(url, desk.id, counter.id, scheduled.id, ordered, hooked.id)


@pytest.fixture
def started(db_url: str) -> Started:
    """The test's journal, holding the runs of `Started`."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _fill_started(db_url)).result()
