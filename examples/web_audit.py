"""Write the audit file of a run: a fan-out of 50 fetches, 2 of which fail.

    python examples/web_audit.py            # writes crawl-audit.html here

The same page is served live by ``durable serve`` at ``/runs/<id>`` and written by
``durable --db URL show <id> --html``.  Open the file in any browser: it needs no
network (its style and script are inline and its policy forbids every request).
"""

from __future__ import annotations

import asyncio
import pathlib
import tempfile

import durable
from durable.http import web


@durable.step(name="audit.fetch", retry=durable.Retry(max_attempts=2, initial=0.01, jitter=0))
async def fetch(i: int) -> dict[str, int]:
    if i in (17, 41):
        raise TimeoutError(f"page {i} did not answer")
    return {"page": i, "bytes": 1000 + i}


@durable.workflow(name="audit.crawl")
async def crawl(n: int) -> int:
    pages = await asyncio.gather(*(fetch(i) for i in range(n)), return_exceptions=True)
    return sum(p["bytes"] for p in pages if isinstance(p, dict))


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with durable.Engine(f"sqlite:///{folder}/journal.db") as engine:
            total = await engine.run(crawl, 50, workflow_id="crawl-1")
            page = await web.export_html(engine, "crawl-1")
    out = pathlib.Path("crawl-audit.html")
    out.write_text(page, encoding="utf-8")
    print(f"crawled: {total} bytes")
    print(f"wrote {out} ({len(page) // 1024} KiB, self-contained)")
    print("folded:", "audit.fetch</b> &times; 50: 48 ok, 2 failed" in page)


if __name__ == "__main__":
    asyncio.run(main())
