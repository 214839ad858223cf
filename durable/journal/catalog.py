"""The journal's catalog of workflows: the names executing engines (and so workers)
imported, each with the queue its ``@workflow(queue=)`` names, written when such an
engine opens (only what the catalog does not hold yet, or holds with another queue).
A starter that never imported a workflow (an API server run with ``--no-execute``, a
script starting by name) reads it to put the run on the workflow's queue, and the HTTP
API to tell a name some worker knows from a typo."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import msgspec

__all__ = ["CatalogStore", "WorkflowRecord"]


class WorkflowRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A workflow some executing engine imported: its queue, and who saw it last, when."""

    name: str
    queue: str | None
    seen_at: float  # when an engine recorded it, or a change of its queue, last
    seen_by: str  # the owner id of that engine

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> WorkflowRecord:
        """A `workflow_catalog` row (either backend's) as a record."""
        name, queue, seen_at, seen_by = row
        return cls(name=name, queue=queue, seen_at=seen_at, seen_by=seen_by)


class CatalogStore(Protocol):
    """The catalog's operations (part of `Journal`; see the module docstring)."""

    async def record_workflows(
        self, workflows: Sequence[tuple[str, str | None]], seen_by: str, at: float
    ) -> None:
        """Record `(name, queue)` pairs imported by executing engine `seen_by` (a name
        seen before takes the latest queue), in one transaction."""

    async def workflow_catalog(self, name: str | None = None) -> list[WorkflowRecord]:
        """The recorded workflows by name; only `name`'s when given (empty if unknown)."""
