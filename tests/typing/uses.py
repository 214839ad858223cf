"""Decorator uses whose types mypy must infer (checked by test_typing.py)."""

from __future__ import annotations

import durable


@durable.step
async def fetch(url: str, retries: int = 1) -> bytes:
    return url.encode()


@durable.step(name="typing.parse", retry=durable.Retry(max_attempts=2))
def parse(raw: bytes) -> dict[str, int]:
    return {"size": len(raw)}


@durable.transaction
async def record(conn: object, topic: str) -> int:
    return len(topic)


@durable.workflow
async def summarize(topic: str) -> str:
    raw = await fetch(topic)
    parsed = await parse(raw)
    count = await record(topic)
    reveal_type(raw)  # noqa: F821
    reveal_type(parsed)  # noqa: F821
    reveal_type(count)  # noqa: F821
    return f"{parsed['size']} {count}"


async def main(engine: durable.Engine) -> None:
    run = await engine.start(summarize, "llm", workflow_id="x")
    reveal_type(run)  # noqa: F821
    pending = summarize("x")
    same = reveal_type(pending)  # noqa: F821
    assert same is pending
    pending.close()
