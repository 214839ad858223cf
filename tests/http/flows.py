"""Workflows and a webhook the HTTP tests serve (imported in-process and by ``durable
serve -m tests.http.flows`` / ``durable worker tests.http.flows`` subprocesses)."""

from __future__ import annotations

import dataclasses
import datetime

import durable
import durable.http

HOOK_SECRET = "s3cret-for-tests"


@durable.step(name="http.double")
async def double(x: int) -> int:
    return 2 * x


@durable.workflow(name="http.add")
async def add(a: int, b: int = 0) -> int:
    return await double(a) // 2 + b


@durable.workflow(name="http.fails")
async def fails(message: str) -> None:
    raise ValueError(message)


@durable.workflow(name="http.gate")
async def gate(label: str) -> dict[str, str]:
    """Publishes ``ready``, then waits for a ``go`` message and returns it."""
    await durable.set_event("ready", {"label": label})
    value = await durable.recv("go")
    return {"label": label, "go": value}


@durable.workflow(name="http.stepper")
async def stepper(count: int) -> int:
    """One step per ``next`` message: a test that reads the stream sends the next
    message only once it saw the previous step's entry."""
    total = 0
    for i in range(count):
        await durable.recv("next")
        total += await double(i)
    return total


@dataclasses.dataclass
class Stamp:
    label: str
    at: datetime.datetime


class Opaque:
    """Neither msgspec nor JSON can hold it: journaled with cloudpickle."""

    def __init__(self, n: int) -> None:
        self.n = n


@durable.step(name="http.opaque")
async def opaque(n: int) -> Opaque:
    return Opaque(n)


@durable.workflow(name="http.typed")
async def typed(label: str) -> Stamp:
    await opaque(1)
    return Stamp(label, datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC))


@durable.workflow(name="http.on_push")
async def on_push(event: dict[str, object]) -> str:
    return str(event.get("ref"))


durable.http.webhook("push", on_push, secret=[HOOK_SECRET, "older-secret"])


@durable.workflow(name="http.approvals")
async def approvals(count: int) -> int:
    """Answers `count` ``approve`` requests: a reply for an amount up to 100, else a
    rejection."""
    for _ in range(count):
        request = await durable.recv_request("approve")
        assert request is not None
        if request.value["amount"] > 100:
            await request.reject(f"{request.value['amount']} is over the limit")
        else:
            await request.reply({"approved": request.value["amount"]})
    return count


@durable.step(name="http.say")
async def say(i: int) -> int:
    await durable.write_stream("words", f"word{i}")
    return i


@durable.workflow(name="http.talker")
async def talker(count: int) -> int:
    """Writes one chunk per ``next`` message: a test that reads the stream sends the
    next message only once it saw the previous chunk."""
    for i in range(count):
        await durable.recv("next")
        await say(i)
    return count


@durable.workflow(name="http.report", queue="reports")
async def report(month: str) -> str:
    """On queue ``reports``: a server that never imported it starts it there."""
    return f"report of {month}"
