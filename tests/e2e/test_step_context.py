"""`durable.context().step` inside a step body is that step's own sequence number.

API.md: ``durable.context()`` gives ``step`` (current sequence number).  Found while
writing the e2e driver: in a step body it is the workflow's *next* number instead (seq 0
sees 1; three steps gathered at seqs 1-3 all see 4), because
`Executor.execution_context` (durable/runtime/executor.py) always reports ``next_seq``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import durable


@durable.step(name="e2e.context.own_seq")
async def own_seq(label: str) -> tuple[str, int]:
    return label, durable.context().step


@durable.workflow(name="e2e.context.numbers")
async def numbers() -> list[tuple[str, int]]:
    first = await own_seq("first")
    gathered = await asyncio.gather(own_seq("a"), own_seq("b"), own_seq("c"))
    return [first, *gathered]


async def test_step_body_sees_its_own_sequence_number(engine: Any) -> None:
    result = await engine.run(numbers)
    assert [tuple(pair) for pair in result] == [("first", 0), ("a", 1), ("b", 2), ("c", 3)]
