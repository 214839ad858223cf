"""The workflow of the failover test's worker processes: `steps` steps in a row, each
appending a line to $DURABLE_TEST_EFFECTS (`tests.e2e.worker_jobs.work`) so the test can
count the step bodies that ran again."""

from __future__ import annotations

import durable
from tests.e2e import worker_jobs


@durable.workflow(name="tests.failover.steps")
async def steps(count: int, delay: float) -> int:
    total = 0
    for index in range(count):
        total += await worker_jobs.work(index, delay)
    return total
