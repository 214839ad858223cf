"""Write the golden journals of this version: ``python -m tests.golden.generate``.

Each workflow of `tests.golden.flows` runs once, on a fresh SQLite file, and its
journal (the run and its children, with their entries, attempts and timers) goes to
``tests/golden/journals/<durable version>/<workflow name>.jsonl``.  A file that exists
is never rewritten: only the workflows without one run (see README.md).  A run's
holder id names the machine it ran on, so it is left out of the file.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import tempfile
from pathlib import Path
from typing import Any

import durable
from durable.journal import base, open_journal
from tests.golden import flows, journal_file

JOURNALS = Path(__file__).resolve().parent / "journals"


async def record(workflow: durable.Workflow[..., Any], folder: str) -> list[base.RunLoad]:
    """Run `workflow` on a new journal in `folder`; its run and children, root first."""
    url = f"sqlite:///{folder}/journal.db"
    run_id = workflow.name.removeprefix("golden.")
    async with durable.Engine(url, poll_interval=0) as engine:
        await engine.run(workflow, workflow_id=run_id)
    journal = open_journal(url)
    await journal.open()
    try:
        family = await journal.list_runs(root_id=run_id, limit=1000)
        ids = [run_id, *sorted(r.id for r in family if r.id != run_id)]
        loads = [await journal.load(member) for member in ids]
    finally:
        await journal.close()
    for load in loads:
        assert load is not None
        assert load.run.status is base.Status.SUCCEEDED, f"{load.run.id} {load.run.status}"
        load.run.owner = load.run.lease_expires_at = None
    return [load for load in loads if load is not None]


async def generate(into: Path, names: set[str] | None) -> list[Path]:
    """Write the journal of each golden workflow that has none in `into`."""
    into.mkdir(parents=True, exist_ok=True)
    written = []
    for workflow in flows.GOLDEN:
        path = into / f"{workflow.name}.jsonl"
        if path.exists() or (names is not None and workflow.name not in names):
            continue
        with tempfile.TemporaryDirectory() as folder:
            loads = await record(workflow, folder)
        header = journal_file.Header(
            workflow=workflow.name,
            durable=durable.__version__,
            schema=base.SCHEMA_VERSION,
            python=platform.python_version(),
        )
        journal_file.write(path, header, loads)
        written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--into",
        type=Path,
        default=JOURNALS / durable.__version__,
        help="the folder to write to (default: journals/<durable version>)",
    )
    parser.add_argument("names", nargs="*", help="only these workflows (default: all)")
    options = parser.parse_args()
    written = asyncio.run(generate(options.into, set(options.names) or None))
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"nothing to write: every golden workflow has a journal in {options.into}")


if __name__ == "__main__":
    main()
