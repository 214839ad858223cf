"""A Starlette service with its own routes and durable's HTTP API mounted beside them.

    pip install -e '.[server]'
    python examples/http_service.py          # serves, calls itself once, prints, stops
    uvicorn examples.http_service:app        # serves until Ctrl-C (http://127.0.0.1:8000)

The service owns the engine: its lifespan opens it (which also resumes unfinished
runs) and closes it.  ``/orders`` is the service's own route, which starts a workflow
with the order id as the workflow id; ``/durable/api/...`` is durable's API
(``durable.http.create_app``), so ``/durable/api/runs/order-1/result?wait=10`` waits for
that run's result.  Set ``DURABLE_API_TOKEN`` to require a bearer token on the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

import durable
import durable.http


@durable.step(name="shop.price")
async def price(item: str, quantity: int) -> float:
    return {"tea": 4.5, "cake": 3.0}.get(item, 1.0) * quantity


@durable.workflow(name="shop.checkout")
async def checkout(order_id: str, items: dict[str, int]) -> dict[str, object]:
    totals = await asyncio.gather(*(price(item, n) for item, n in items.items()))
    return {"order": order_id, "total": sum(totals)}


def make_app(engine: durable.Engine) -> Starlette:
    """The service: its own ``/orders`` route, and durable's API under ``/durable``."""

    async def place_order(request: Request) -> JSONResponse:
        """The service's own endpoint: idempotent by order id."""
        order = await request.json()
        run = await engine.start(checkout, order["id"], order["items"], workflow_id=order["id"])
        return JSONResponse({"run": run.id, "result": f"/durable/api/runs/{run.id}/result"}, 202)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with engine:  # opened before the first request, closed after the last
            yield

    return Starlette(
        routes=[
            Route("/orders", place_order, methods=["POST"]),
            Mount("/durable", app=durable.http.create_app(engine)),
        ],
        lifespan=lifespan,
    )


app = make_app(durable.Engine(os.environ.get("DURABLE_DATABASE_URL", "sqlite:///shop.db")))


async def demo(service: Starlette) -> None:
    """Serve on a free port, place an order, read it back through durable's API."""
    config = uvicorn.Config(service, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.ensure_future(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    token = os.environ.get("DURABLE_API_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers) as client:
        order = {"id": "order-1", "items": {"tea": 2, "cake": 1}}
        placed = await client.post("/orders", json=order)
        print("placed:", placed.json())
        result = await client.get(placed.json()["result"], params={"wait": 10})
        print("result:", result.json().get("result", result.json()))
        history = await client.get("/durable/api/runs/order-1/history")
        print("steps:", [entry["name"] for entry in history.json()["entries"]])
    server.should_exit = True
    await serving


if __name__ == "__main__":
    url = os.environ.get("DURABLE_DATABASE_URL")
    if url is None:  # a fresh database for the demo
        url = f"sqlite:///{tempfile.mkdtemp(prefix='durable-shop-')}/shop.db"
    asyncio.run(demo(make_app(durable.Engine(url))))
