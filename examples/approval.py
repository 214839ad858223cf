"""Expense approval: a workflow waits for a human decision, sent as a request.

    python examples/approval.py          # the claim is decided, then paid
    python examples/approval.py          # again: the result is read back, nothing reruns

The run notifies a manager and waits for a ``decide`` request (`durable.recv_request`),
reminding the manager each time the wait times out.  A decision from the claim's own
submitter is rejected (the caller's `engine.request` raises `durable.Rejected`); the
manager's is replied to, and the caller gets the reply.  Then the run waits for either
``paid`` or ``dispute`` (`durable.recv_any`).  Every wait is journaled: a crash at any
point resumes the same conversation, and a decision is answered exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import durable


@durable.step(name="approval.notify")
async def notify(who: str, text: str) -> None:
    print(f"  notify {who}: {text}")


@durable.workflow(name="approval.expense")
async def expense(claim: dict[str, Any], remind_every: float) -> str:
    await notify("manager", f"please decide on {claim['id']} ({claim['amount']} EUR)")
    reminders = 0
    while True:
        request = await durable.recv_request("decide", timeout=remind_every)
        if request is None:  # no decision in time: remind, at most ten times
            reminders += 1
            if reminders > 10:
                return f"{claim['id']}: expired without a decision"
            await notify("manager", f"reminder {reminders}: {claim['id']} is waiting")
            continue
        if request.value["by"] == claim["submitter"]:
            await request.reject("the submitter cannot decide on their own claim")
            continue
        approved = bool(request.value["approve"])
        await request.reply({"claim": claim["id"], "approved": approved})
        if not approved:
            return f"{claim['id']}: refused by {request.value['by']}"
        break
    topic, value = await durable.recv_any("paid", "dispute", timeout=3600)
    return f"{claim['id']}: approved, then {topic} ({value})"


async def decide(engine: durable.Engine, run_id: str, by: str, approve: bool) -> None:
    try:
        reply = await engine.request(
            run_id, "decide", {"by": by, "approve": approve}, timeout=30, request_id=f"{by}-1"
        )
    except durable.Rejected as rejected:
        print(f"{by}'s decision rejected: {rejected.reason}")
    else:
        print(f"{by}'s decision accepted: {reply}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="sqlite:///approval.db")
    parser.add_argument("--remind-every", type=float, default=0.3)
    options = parser.parse_args()
    claim = {"id": "claim-17", "amount": 240, "submitter": "bob"}
    async with durable.Engine(options.db) as engine:
        run = await engine.start(expense, claim, options.remind_every, workflow_id="claim-17")
        if await run.status() is not durable.Status.SUCCEEDED:
            await decide(engine, run.id, "bob", approve=True)  # not his to decide
            await asyncio.sleep(options.remind_every * 1.5)  # the manager is slow: a reminder
            await decide(engine, run.id, "ann", approve=True)
            await engine.send(run.id, "paid", "transfer 2291")
        print(await run.result())
        kinds = [h.kind for h in await engine.history(run.id) if h.kind != "step"]
        print("journal:", " ".join(kinds))


if __name__ == "__main__":
    asyncio.run(main())
