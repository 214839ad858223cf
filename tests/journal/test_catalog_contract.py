"""The workflow catalog (`durable.journal.catalog`), on every backend: recorded names
with their queues, the latest recording winning, read whole or by name."""

from __future__ import annotations

from durable.journal import base
from tests.journal.test_conformance import journal

__all__ = ["journal"]  # the fixture


async def test_catalog_records_names_and_their_latest_queue(journal: base.Journal) -> None:
    assert await journal.workflow_catalog() == []
    await journal.record_workflows([("app.etl", "batch"), ("app.mail", None)], "worker-1", 10.0)
    await journal.record_workflows([], "worker-3", 11.0)  # nothing imported: nothing written
    listed = await journal.workflow_catalog()
    assert [(w.name, w.queue, w.seen_by, w.seen_at) for w in listed] == [
        ("app.etl", "batch", "worker-1", 10.0),
        ("app.mail", None, "worker-1", 10.0),
    ]
    # a newer deployment moved the workflow to another queue: the latest recording wins
    await journal.record_workflows([("app.etl", "heavy"), ("app.zip", "batch")], "worker-2", 12.0)
    (etl,) = await journal.workflow_catalog("app.etl")
    assert (etl.queue, etl.seen_by, etl.seen_at) == ("heavy", "worker-2", 12.0)
    assert [w.name for w in await journal.workflow_catalog()] == ["app.etl", "app.mail", "app.zip"]
    assert await journal.workflow_catalog("app.unknown") == []
