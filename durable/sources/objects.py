"""`Objects`: a folder or an object store (S3 and compatible) as an event source, via fsspec.

Why fsspec rather than obstore: pyarrow's Parquet reader takes an fsspec file as it
is and fetches only the footer and the row groups read (range requests), local
folders need nothing beyond fsspec itself, and ``s3fs`` speaks to any S3-compatible
server through ``endpoint_url``.  obstore is faster at raw transfers, but its readers
would need an adapter for pyarrow, and transfer speed is not what a source that
starts runs is bound by.  fsspec's calls block, so they run in a thread.

A listing every `poll` seconds (stores have no notifications here) finds objects new
or changed since the journal last saw them (version: the ETag, or mtime and size where
there is none).  ``records=False``: one run per object version, its id derived from
path and version.  ``records=True``: the rows of Parquet (by row group), CSV and JSON
lines objects, one object at a time; the position reached in an object (version and
row) is stored in the journal with the runs of the rows before it, so a restart
resumes at that row.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Sequence
from typing import Any

from durable import errors
from durable.journal import base
from durable.sources import base as sources_base
from durable.sources import object_formats

__all__ = ["Objects"]

_DONE = "end"


class Objects:
    """Objects under a folder or bucket prefix as events.

    ``@durable.workflow(on=Objects("s3://bucket/in/"))`` starts one run per new or
    changed object, with ``{"path", "version", "size"}`` as its first argument;
    ``Objects(..., records=True)`` one run per row of Parquet, CSV and JSON lines
    objects (the row as a ``dict``).  Objects whose name starts with ``.`` or ``_`` or
    ends with ``.tmp`` are ignored: write there, then rename.

    Parameters
    ----------
    url:
        ``file:///dir/`` or ``s3://bucket/prefix/`` (any fsspec URL).
    records:
        Whether to stream the objects' rows instead of their names.
    poll:
        Seconds between listings.
    options:
        Passed to fsspec (for S3: ``{"endpoint_url": ..., "key": ..., "secret": ...}``).
    batch_size, max_wait:
        See `durable.sources.Tuning`.

    Examples
    --------
    >>> Objects("file:///srv/in/").key
    'objects:file:///srv/in/'
    """

    def __init__(
        self,
        url: str,
        *,
        records: bool = False,
        poll: float = 2.0,
        options: dict[str, Any] | None = None,
        batch_size: int = 1,
        max_wait: float = 0.0,
    ) -> None:
        self.url = url
        self.records = records
        self.poll = poll
        self.options = dict(options or {})
        self.tuning = sources_base.Tuning(
            batch_size=batch_size, max_wait=max_wait, max_deliveries=None
        )
        self._context: sources_base.Context | None = None
        self._fs: Any = None
        self._root = ""
        self._seen: dict[str, str] = {}  # path -> position the journal holds
        self._queue: list[tuple[str, str, dict[str, Any]]] = []  # (path, version, info)
        self._listed_at = -1e9
        self._reader: object_formats.RowReader | None = None
        self._current: tuple[str, str] | None = None  # (path, version) being read
        self._read_unacked = False

    def __repr__(self) -> str:
        return f"<durable.sources.Objects {self.url!r} records={self.records}>"

    @property
    def key(self) -> str:
        return f"objects:{self.url}"

    @property
    def context(self) -> sources_base.Context:
        if self._context is None:
            raise RuntimeError(f"{self!r} is not open")
        return self._context

    async def open(self, context: sources_base.Context) -> None:
        try:
            fsspec = importlib.import_module("fsspec")
        except ImportError as exc:
            raise errors.DurableError(
                f"{self!r} needs fsspec: pip install 'durable[sources]'"
            ) from exc
        self._context = context
        self._fs, self._root = await asyncio.to_thread(
            fsspec.core.url_to_fs, self.url, **self.options
        )
        await self.seek(None)

    # -- listing ------------------------------------------------------------------------

    async def _list(self) -> None:
        """Queue the objects new or changed since the journal last saw them."""
        self._listed_at = time.monotonic()
        self._fs.invalidate_cache()  # fsspec caches listings: a new object would be missed
        found = await asyncio.to_thread(self._fs.find, self._root, detail=True)
        for path in sorted(found):
            info = found[path]
            name = path.rsplit("/", 1)[-1]
            if info.get("type") == "directory" or name.startswith((".", "_")):
                continue
            if name.endswith(".tmp"):
                continue
            version = _version(info)
            position = await self._position(path)
            if position is not None and position.split("#", 1)[0] == version:
                if not self.records or position.endswith(f"#{_DONE}"):
                    continue
            if any(queued[0] == path for queued in self._queue) or self._current == (path, version):
                continue
            self._queue.append((path, version, info))

    async def _position(self, path: str) -> str | None:
        if path not in self._seen:
            stored = await self.context.journal.get_offset(
                self.context.consumer, self._source(path)
            )
            if stored is None:
                return None
            self._seen[path] = stored
        return self._seen[path]

    def _source(self, path: str) -> str:
        return f"{self.key}|{self._relative(path)}"

    def _relative(self, path: str) -> str:
        root = self._root.rstrip("/")
        return path[len(root) + 1 :] if path.startswith(root + "/") else path

    # -- reading ------------------------------------------------------------------------

    async def read(self, limit: int, timeout: float) -> list[sources_base.Record]:
        deadline = time.monotonic() + timeout
        while True:
            if (
                self._current is None
                and not self._queue
                and (time.monotonic() - self._listed_at >= self.poll)
            ):
                await self._list()
            found = await (self._read_rows(limit) if self.records else self._read_objects(limit))
            left = deadline - time.monotonic()
            if found or left <= 0:
                return found
            await asyncio.sleep(
                min(left, max(0.0, self.poll - (time.monotonic() - self._listed_at)), self.poll)
            )

    async def _read_objects(self, limit: int) -> list[sources_base.Record]:
        taken, self._queue = self._queue[:limit], self._queue[limit:]
        return [
            sources_base.Record(
                identity=f"{self._relative(path)}#{version}",
                value={"path": self._url_of(path), "version": version, "size": info.get("size")},
                handle=(path, version, None),
            )
            for path, version, info in taken
        ]

    async def _read_rows(self, limit: int) -> list[sources_base.Record]:
        if self._reader is None:
            if self._read_unacked or not self._queue:
                return []  # one object at a time: the last one's rows are committed first
            await self._start_object(*self._queue.pop(0)[:2])
            if self._reader is None:
                return await self._unreadable()
        reader, current = self._reader, self._current
        assert reader is not None and current is not None
        rows, finished = await asyncio.to_thread(reader.take, limit)
        path, version = current
        records = [
            sources_base.Record(
                identity=f"{self._relative(path)}#{version}:{number}",
                value=row,
                handle=(path, version, _DONE if finished and k == len(rows) - 1 else number + 1),
            )
            for k, (number, row) in enumerate(rows)
        ]
        if finished:
            await asyncio.to_thread(reader.close)
            self._reader = None
            if not records:  # an empty object: nothing to run, remembered as read
                await self._mark(path, f"{version}#{_DONE}")
                self._current = None
        self._read_unacked = bool(records)
        return records

    async def _start_object(self, path: str, version: str) -> None:
        self._current = (path, version)
        fmt = object_formats.format_of(path)
        if fmt is None:
            return
        position = await self._position(path)
        start = 0
        if position is not None and position.split("#", 1)[0] == version:
            start = int(position.split("#", 1)[1])
        try:
            self._reader = await asyncio.to_thread(
                object_formats.RowReader, self._fs, path, fmt, start
            )
        except Exception as exc:
            self._failure = exc

    async def _unreadable(self) -> list[sources_base.Record]:
        """An object whose rows cannot be read: one dead-letter record for it."""
        assert self._current is not None
        path, version = self._current
        fmt = object_formats.format_of(path)
        reason = getattr(self, "_failure", None) or ValueError(
            f"{path!r} is not Parquet, CSV or JSON lines (by its name's ending)"
        )
        self._read_unacked = True
        return [
            sources_base.Record(
                identity=f"{self._relative(path)}#{version}",
                value={"path": self._url_of(path), "version": version, "format": fmt},
                handle=(path, version, _DONE),
                error=reason,
            )
        ]

    def _url_of(self, path: str) -> str:
        protocol = self._fs.protocol
        scheme = protocol[0] if isinstance(protocol, tuple | list) else protocol
        return f"{scheme}://{path}" if scheme != "file" else f"file://{path}"

    # -- positions ----------------------------------------------------------------------

    def offset(self, records: Sequence[sources_base.Record]) -> base.OffsetMove | None:
        if not self.records:
            return None  # the run ids (path and version) are the record of what was seen
        path, version, position = records[-1].handle
        return base.OffsetMove(
            consumer=self.context.consumer,
            source=self._source(path),
            expected=self._seen.get(path),
            position=f"{version}#{position}",
        )

    async def ack(self, records: Sequence[sources_base.Record]) -> None:
        if not records:
            return
        if self.records:
            path, version, position = records[-1].handle
            self._seen[path] = f"{version}#{position}"
            self._read_unacked = False
            if position == _DONE:
                self._current = None
            return
        for record in records:  # remembered, so a restart does not list them as new
            path, version, _ = record.handle
            await self._mark(path, f"{version}#{_DONE}")

    async def _mark(self, path: str, position: str) -> None:
        move = base.OffsetMove(
            consumer=self.context.consumer,
            source=self._source(path),
            expected=self._seen.get(path),
            position=position,
        )
        await self.context.journal.start_from_source(base.SourceStart(runs=[], offset=move))
        self._seen[path] = position

    async def seek(self, position: str | None) -> None:
        if self._reader is not None:
            await asyncio.to_thread(self._reader.close)
        self._reader = None
        self._current = None
        self._queue = []
        self._seen = {}
        self._read_unacked = False
        self._listed_at = -1e9

    async def close(self) -> None:
        await self.seek(None)
        self._context = None


def _version(info: dict[str, Any]) -> str:
    """An object's version: its ETag, else its mtime and size."""
    etag = info.get("ETag") or info.get("etag")
    if etag:
        return str(etag).strip('"')
    mtime = info.get("mtime") or info.get("LastModified") or 0
    if hasattr(mtime, "timestamp"):
        mtime = mtime.timestamp()
    return f"{int(float(mtime) * 1_000_000)}-{info.get('size')}"
