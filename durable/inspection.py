"""What an `Engine` answers about runs without executing anything: listing, history
(of any generation), lineage, and replaying workflow code against a journal to find
where it diverges.  Mixed into `durable.engine.Engine`."""

from __future__ import annotations

import builtins
import datetime
from collections.abc import Sequence
from typing import Any

from durable import codec as codec_mod
from durable import errors
from durable import runs as runs_mod
from durable.journal import base
from durable.journal import generations as gens
from durable.runs import HistoryEntry, LineageNode, RunInfo, read_run
from durable.runtime import registry, replayer

__all__ = ["Inspection"]


class Inspection:
    """Reading runs back: the inspection and debugging half of `Engine`."""

    journal: base.Journal
    codec: codec_mod.Codec

    # -- inspecting ---------------------------------------------------------------------------

    async def list(
        self,
        status: base.Status | str | Sequence[base.Status | str] | None = None,
        name: str | None = None,
        limit: int = 100,
    ) -> builtins.list[RunInfo]:
        """Runs, newest first, filtered by status(es) and workflow name."""
        statuses: list[base.Status] | None = None
        if status is not None:
            items = [status] if isinstance(status, str | base.Status) else list(status)
            statuses = [base.Status(str(item).upper()) for item in items]
        records = await self.journal.list_runs(status=statuses, name=name, limit=limit)
        return [RunInfo.from_record(record) for record in records]

    async def history(
        self, workflow_id: str, *, generation: int | None = None
    ) -> builtins.list[HistoryEntry]:
        """The journal entries of a run, in sequence order: its current generation's, or
        those of past `generation` (from 1) of a run that continued as new.

        A value this process cannot decode shows as a `durable.runs.Undecodable` that
        says why; an event entry shows the value it set while it is its key's latest.
        """
        load = await self.load_run(workflow_id, generation)
        return await runs_mod.history(self.journal, self.codec, load)

    async def generations(self, workflow_id: str) -> builtins.list[gens.GenerationRecord]:
        """The past generations of a run that continued as new, oldest first (the
        current one, ``len(...) + 1``, is not listed)."""
        await read_run(self.journal, workflow_id)
        return await self.journal.generations(workflow_id)

    async def load_run(self, workflow_id: str, generation: int | None = None) -> base.RunLoad:
        """A run's row and journal entries: its current generation's, or past `generation`'s
        (a `durable.DurableError` naming the generations it has when there is no such one)."""
        if generation is None:
            load = await self.journal.load(workflow_id)
        else:
            load = await self.journal.load_generation(workflow_id, generation)
        if load is not None:
            return load
        if generation is None or await self.journal.get_run(workflow_id) is None:
            raise errors.WorkflowNotFound(workflow_id=workflow_id)
        current = len(await self.journal.generations(workflow_id)) + 1
        raise errors.DurableError(
            f"run {workflow_id!r} has no generation {generation}: its generations are 1 "
            f"to {current} (the current one); ask for one of those"
        )

    async def lineage(self, workflow_id: str) -> LineageNode:
        """The tree of runs under `workflow_id`'s root: ids, names, statuses, timings."""
        return await runs_mod.lineage(self.journal, await read_run(self.journal, workflow_id))

    # -- debugging ------------------------------------------------------------------------------

    async def replay(
        self,
        workflow_id: str,
        *,
        on_call: Any = None,
        break_at: int | None = None,
        on_break: Any = None,
        generation: int | None = None,
    ) -> replayer.ReplayReport:
        """Re-execute a run's workflow code against its journal, running no step body and
        writing nothing; report the calls matched and the first divergence, if any.

        Parameters
        ----------
        on_call:
            ``on_call(seq, kind, name, matched)`` for each call as it is matched.
        break_at, on_break:
            ``on_break(seq)`` runs just before call number `break_at` is made.
        generation:
            A past generation of a run that continued as new (default: the current one).
        """
        load = await self.load_run(workflow_id, generation)
        definition = registry.lookup_workflow(load.run.name)
        if definition is None:
            raise errors.NotRegistered(workflow_id=workflow_id, name=load.run.name)
        return await replayer.replay(
            load, definition, self.codec, on_call=on_call, break_at=break_at, on_break=on_break
        )

    async def check(
        self,
        *,
        name: str | None = None,
        since: datetime.datetime | None = None,
        limit: int = 10_000,
    ) -> builtins.list[replayer.ReplayReport]:
        """Replay every matching run against the current code; return the reports of the
        runs it would break (their divergence) or cannot read (a corrupt row: `corrupt`),
        the check to run before deploying."""
        broken = []
        for record in await self.journal.list_runs(name=name, limit=limit):
            if since is not None and record.created_at < since.timestamp():
                continue
            if registry.lookup_workflow(record.name) is None:
                continue
            try:
                report = await self.replay(record.id)
            except (errors.JournalError, errors.SerializationError) as exc:
                # the run's rows cannot be read: report it, and go on with the others
                report = replayer.ReplayReport(workflow_id=record.id, name=record.name)
                report.corrupt = exc
            if not report.ok:
                broken.append(report)
        return broken
