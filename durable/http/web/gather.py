"""What the run page reads from the journal, in one place for the web view and the
audit file: the run (its current generation or a past one) worked out by
`durable.http.web.model`, its lineage, the values of its events, its requests and its
past generations."""

from __future__ import annotations

import time
from dataclasses import dataclass

from durable.engine import Engine
from durable.http.web import model
from durable.journal import generations, requests
from durable.runs import LineageNode

__all__ = ["RunPage", "read"]


@dataclass
class RunPage:
    """Everything the run page draws, read at time `now`."""

    view: model.RunView
    tree: LineageNode
    events: dict[str, bytes | None]
    requests: list[requests.RequestRecord]
    generations: list[generations.GenerationRecord]
    generation: int | None  # the past generation shown; None: the current one
    now: float

    @property
    def current(self) -> int:
        """The number of the run's current generation (1 for a run that never continued)."""
        return len(self.generations) + 1


async def read(engine: Engine, run_id: str, generation: int | None = None) -> RunPage:
    """The page of run `run_id` (`generation`: a past one, from 1).  Raises
    `WorkflowNotFound`, or `DurableError` naming the generations for an unknown one."""
    load = await engine.load_run(run_id, generation)
    tree = await engine.lineage(run_id)
    keys = {entry.name for entry in load.entries if entry.kind == "event"}
    events = {key: await engine.journal.get_event(run_id, key) for key in keys}
    inbox = await engine.journal.list_requests(run_id)
    past = await engine.journal.generations(run_id)
    if generation is not None and generation > len(past):
        generation = None  # the current one, asked for by its number
    now = time.time()
    return RunPage(model.build(load, now), tree, events, inbox, past, generation, now)
