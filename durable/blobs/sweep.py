"""Deleting blobs no run references: after `durable prune`, and orphans (`sweep`).

A blob is referenced by a journal row when the row's payload names its key (the
reference's URL holds it: ``.../sha256/ab/<sha256>.<ext>``).  `durable.export.prune`
collects the blobs of the runs it is about to delete (`uris_by_run`), deletes the runs,
then deletes each of those blobs that no remaining row names (`delete_unreferenced`):
a blob two runs share (the same content, a fork) stays until the last one goes.

`sweep` lists a store and deletes blobs that no row names and that are older than a
grace period: the orphans a crash between writing a blob and committing its journal
entry leaves, and unfinished ``tmp/`` files.  The grace period spares a blob whose
entry is about to commit.  A run writing the very content a prune is deleting, at the
same instant, can lose it (the write found the blob present and skipped it): run
prune and sweep when no run is writing the same values, or keep the grace period.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec

from durable import codec
from durable.blobs import refs
from durable.blobs.store import Store, open_store
from durable.journal import base

__all__ = ["delete_unreferenced", "sweep", "uris_by_run", "uris_in"]

_plain = msgspec.msgpack.Decoder()


def uris_in(data: bytes) -> set[str]:
    """The blob URLs a payload references: an offloaded value's, and every
    `durable.Ref` in plain or typed data (pickled ones are only found by key)."""
    if refs.MARKER not in data or not codec.intact(data):
        return set()
    body = codec.unframe(data)
    tag = body[:1]
    try:
        if tag == b"R":
            return {refs.ref_of(body).uri}
        if tag == b"M":
            return _walk(_plain.decode(body[1:]))
        if tag == b"T":
            size = int.from_bytes(body[1:5], "big")
            return _walk(_plain.decode(body[5 + size :]))
    except (msgspec.MsgspecError, ValueError):
        return set()
    return set()


def _walk(value: Any, depth: int = 0) -> set[str]:
    found: set[str] = set()
    if depth > 64:
        return found
    if isinstance(value, dict):
        uri = value.get("uri")
        if isinstance(uri, str) and "sha256" in value and refs.KEY_PATTERN.search(uri.encode()):
            found.add(uri)
        for item in value.values():
            found |= _walk(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            found |= _walk(item, depth + 1)
    return found


async def uris_by_run(journal: base.Journal) -> dict[str, set[str]]:
    """The blob URLs referenced by the rows of each run."""
    found: dict[str, set[str]] = {}
    for run_id, data in await journal.blob_payloads():
        uris = uris_in(data)
        if uris:
            found.setdefault(run_id, set()).update(uris)
    return found


def _key(uri: str) -> str:
    return "sha256/" + uri.rpartition("/sha256/")[2]


async def delete_unreferenced(
    journal: base.Journal, uris: set[str], options: dict[str, Any] | None = None
) -> int:
    """Delete those of `uris` whose key no journal row names any more; how many went."""
    if not uris:
        return 0
    kept = refs.keys_in(data for _run, data in await journal.blob_payloads())
    doomed = [uri for uri in sorted(uris) if _key(uri) not in kept]

    def delete() -> int:
        deleted = 0
        for uri in doomed:
            root = uri.rpartition("/sha256/")[0]
            deleted += open_store(root, options).delete(_key(uri))
        return deleted

    return await asyncio.to_thread(delete)


async def sweep(journal: base.Journal, store: Store, *, older_than: float = 3600.0) -> int:
    """Delete the blobs of `store` that no row names and unfinished writes, all last
    changed more than `older_than` seconds ago; how many went."""
    kept = refs.keys_in(data for _run, data in await journal.blob_payloads())

    def run() -> int:
        deleted = 0
        for path in store.stale_tmp(older_than):
            store.fs.rm_file(path)
            deleted += 1
        for key, changed in store.listing():
            if key not in kept and changed is not None and changed < cutoff:
                deleted += store.delete(key)
        return deleted

    cutoff = time.time() - older_than
    return await asyncio.to_thread(run)
