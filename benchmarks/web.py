"""The web view's page load for a run of 10,000 calls (a fan-out, 10 of them failed).

    python -m benchmarks.web [--calls 10000] [--db URL] [--rounds 5]

Prints, side by side: the journal read of the run alone (``journal.load``, the raw
database cost every view pays), the server's run fragment (``GET /ui/runs/{id}``:
read, fold, render), the whole page in headless Chromium (navigation until the run is
drawn), and the audit file (``durable show --html``'s renderer) with its size.  Medians
of `--rounds`.  Needs ``/usr/bin/chromium`` and the dev extra (Playwright).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import uvicorn

import durable
import durable.http
from durable.http import web

NO_RETRY = durable.Retry(max_attempts=1)


@durable.step(name="bench.web.fetch", retry=NO_RETRY)
async def fetch(i: int) -> dict[str, int]:
    if i % 1000 == 999:
        raise ConnectionError(f"page {i} timed out")
    return {"page": i, "bytes": 100 + i}


@durable.workflow(name="bench.web.crawl")
async def crawl(n: int) -> int:
    pages = await asyncio.gather(*(fetch(i) for i in range(n)), return_exceptions=True)
    return sum(1 for p in pages if isinstance(p, dict))


async def _median(rounds: int, work: Callable[[], Awaitable[Any]]) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _serve(url: str) -> tuple[str, Callable[[], None]]:
    """``create_app`` on uvicorn in a thread of its own (with its own engine)."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        async with durable.Engine(url, execute=False, poll_interval=0) as engine:
            config = uvicorn.Config(
                durable.http.create_app(engine, tokens=[]),
                host="127.0.0.1",
                port=0,
                lifespan="off",
                log_level="error",
            )
            server = uvicorn.Server(config)
            box["server"] = server
            task = asyncio.ensure_future(server.serve())
            while not server.started:
                await asyncio.sleep(0.01)
            box["port"] = server.servers[0].sockets[0].getsockname()[1]
            ready.set()
            await task

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    ready.wait(30)

    def stop() -> None:
        box["server"].should_exit = True
        thread.join(30)

    return f"http://127.0.0.1:{box['port']}", stop


def _browser(base: str, run_id: str, rounds: int) -> float:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page()
        page.goto(f"{base}/runs/{run_id}")  # warm: the script and stylesheet cached
        page.wait_for_selector("article.run")
        for _ in range(rounds):
            started = time.perf_counter()
            page.goto(f"{base}/runs/{run_id}")
            page.wait_for_selector("article.run .graph")
            times.append(time.perf_counter() - started)
        assert "9,990 ok, 10 failed" in page.inner_text(".node.bucket summary")
        browser.close()
    return statistics.median(times)


async def _measure(url: str, calls: int, rounds: int) -> None:
    async with durable.Engine(url, poll_interval=0) as engine:
        run = await engine.start(crawl, calls)
        built = time.perf_counter()
        await run.result()
        print(f"the run: {calls:,} calls journaled in {time.perf_counter() - built:.1f} s")
        load = await _median(rounds, lambda: engine.journal.load(run.id))
        size = len(await web.export_html(engine, run.id))
        export = await _median(rounds, lambda: web.export_html(engine, run.id))
    base, stop = _serve(url)
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            fragment = await _median(rounds, lambda: client.get(f"/ui/runs/{run.id}"))
            body = (await client.get(f"/ui/runs/{run.id}")).content
        page = await asyncio.to_thread(_browser, base, run.id, rounds)
    finally:
        stop()
    print(f"{'what':<44} {'median':>9} {'vs journal read':>16}")
    rows = [
        ("journal.load of the run (raw database read)", load),
        (f"GET /ui/runs/ID, server only ({len(body) / 1024:.0f} KiB)", fragment),
        ("page in Chromium, navigation to drawn", page),
        (f"audit file rendered ({size / 2**20:.1f} MiB)", export),
    ]
    for label, seconds in rows:
        print(f"{label:<44} {seconds * 1000:7.0f} ms {seconds / load:15.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--db", default=None)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = options.db or f"sqlite:///{os.path.join(folder, 'web.db')}"
        asyncio.run(_measure(url, options.calls, options.rounds))


if __name__ == "__main__":
    main()
