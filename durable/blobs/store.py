"""`Store`: a folder or bucket of content-addressed blobs, reached through fsspec.

A blob's key is ``sha256/<first two hex digits>/<sha256>.<ext>``: the same bytes always
land on the same key, so writing a blob twice (a retried step, a resumed run, two runs
returning the same table) leaves one object and no harm.  A blob becomes visible under
its key only once complete: bytes go up in one ``PUT`` (object stores) or are renamed
into place (folders), a streamed Parquet file is written under ``tmp/`` and moved to its
key once its hash is known.  A crash mid-write leaves at most a ``tmp/`` file, which
`durable prune` removes once it is old.

Why fsspec rather than obstore: the project already reads objects through fsspec (the
``Objects`` source), pyarrow's Parquet writer and reader take an fsspec file as they
are (so a table streams to S3 in multipart chunks with no copy of the file in memory),
and fsspec has folders, S3 (``s3fs``, any S3-compatible server) and an in-process
``memory://`` store behind one interface.  obstore is faster per request and async, but
needs a separate adapter for pyarrow's file interface and would be one more native
dependency for a path that is bound by the bytes moved, not by request overhead.
fsspec's calls block: the engine makes them from the thread a step's value is encoded
in, or through `asyncio.to_thread`.
"""

from __future__ import annotations

import hashlib
import importlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

from durable import errors

__all__ = ["HashingWriter", "Store", "key_for", "open_store"]

_CHUNK = 8 * 1024 * 1024
TMP = "tmp"


def key_for(sha256: str, ext: str) -> str:
    """The content address of a blob."""
    return f"sha256/{sha256[:2]}/{sha256}.{ext}"


def _fsspec() -> Any:
    try:
        return importlib.import_module("fsspec")
    except ImportError as exc:
        raise errors.JournalError(
            "a blob store needs fsspec (and s3fs for s3:// stores): pip install 'durable[blobs]'"
        ) from exc


class HashingWriter:
    """A binary file wrapper that hashes (sha256) and counts what is written through it."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()
        self.size = 0
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        self.hash.update(view)
        self.raw.write(view)
        self.size += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self.raw.flush()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True  # the raw file is closed by whoever opened it


class Store:
    """A folder (``file:///...``), bucket prefix (``s3://bucket/prefix``) or in-process
    (``memory://name``) store of content-addressed blobs.

    Parameters
    ----------
    url:
        Any fsspec URL naming a folder-like location.
    options:
        Passed to fsspec (for S3: ``{"endpoint_url": ..., "key": ..., "secret": ...}``).
    """

    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        self.url = url.rstrip("/") if url.rstrip("/") != "memory:" else "memory://durable"
        self.options = dict(options or {})
        fs, root = _fsspec().core.url_to_fs(self.url, **self.options)
        self.fs: Any = fs
        self.root: str = root.rstrip("/")
        self.local = "file" in _protocols(fs)

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def uri(self, key: str) -> str:
        """The full URL of `key`."""
        return f"{self.url.rstrip('/')}/{key}"

    def key_of(self, uri: str) -> str | None:
        """`uri`'s key in this store, None when it lies elsewhere."""
        prefix = self.url.rstrip("/") + "/"
        return uri[len(prefix) :] if uri.startswith(prefix) else None

    def path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def exists(self, key: str) -> bool:
        # never from a cached listing: a blob deleted by another process (prune) must be
        # written again, or the new reference would name nothing
        self.fs.invalidate_cache(self.path(key))
        return bool(self.fs.exists(self.path(key)))

    def put_bytes(self, data: bytes, ext: str) -> tuple[str, str, int]:
        """Store `data` under its content address; return (key, sha256, size)."""
        sha = hashlib.sha256(data).hexdigest()
        key = key_for(sha, ext)
        if not self.exists(key):
            if self.local:  # a folder: complete under a temporary name, then renamed
                tmp = self.path(f"{TMP}/{uuid.uuid4().hex}")
                self.fs.makedirs(self.path(TMP), exist_ok=True)
                self.fs.pipe_file(tmp, data)
                self._move(tmp, key)
            else:  # one PUT: an object store shows the object whole or not at all
                self.fs.pipe_file(self.path(key), data)
        return key, sha, len(data)

    def put_stream(self, write: Any, ext: str) -> tuple[str, str, int]:
        """Store what ``write(file)`` writes under its content address, streaming: the
        file is written under ``tmp/`` while hashed and moved to its key at the end."""
        self.fs.makedirs(self.path(TMP), exist_ok=True)
        tmp = self.path(f"{TMP}/{uuid.uuid4().hex}")
        try:
            with self.fs.open(tmp, "wb") as raw:
                sink = HashingWriter(raw)
                write(sink)
            sha = sink.hash.hexdigest()
            key = key_for(sha, ext)
            if self.exists(key):
                self.fs.rm_file(tmp)
            else:
                self._move(tmp, key)
        except BaseException:
            if self.fs.exists(tmp):
                self.fs.rm_file(tmp)
            raise
        return key, sha, sink.size

    def _move(self, tmp: str, key: str) -> None:
        final = self.path(key)
        self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        self.fs.mv(tmp, final)

    def read_bytes(self, key: str) -> bytes:
        data: bytes = self.fs.cat_file(self.path(key))
        return data

    def hash_of(self, key: str) -> str:
        """The sha256 of the blob at `key`, read in chunks (no copy in memory)."""
        digest = hashlib.sha256()
        with self.fs.open(self.path(key), "rb") as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def open(self, key: str) -> Any:
        return self.fs.open(self.path(key), "rb")

    def delete(self, key: str) -> bool:
        """Delete the blob at `key`; False when it was not there."""
        try:
            self.fs.rm_file(self.path(key))
        except FileNotFoundError:
            return False
        return True

    def listing(self) -> Iterator[tuple[str, float | None]]:
        """Every blob key in the store (``tmp/`` files excluded) with its last change."""
        self.fs.invalidate_cache()  # listings are cached by s3fs: this one must be fresh
        try:
            found = self.fs.find(self.path("sha256"), detail=True)
        except FileNotFoundError:
            return
        start = len(self.root) + 1  # a memory:// root is "" and its paths start with "/"
        for path, entry in found.items():
            yield path[start:], _mtime(entry)

    def stale_tmp(self, older_than: float) -> list[str]:
        """``tmp/`` files last changed more than `older_than` seconds ago (writes a crash
        cut short)."""
        stale: list[str] = []
        self.fs.invalidate_cache()
        try:
            entries = self.fs.ls(self.path(TMP), detail=True)
        except FileNotFoundError:
            return stale
        cutoff = time.time() - older_than
        for entry in entries:
            changed = _mtime(entry)
            if changed is not None and changed < cutoff:
                stale.append(str(entry["name"]))
        return stale

    def copy_to(self, key: str, folder: str) -> str:
        """Copy the blob at `key` into the local `folder` (same key below it)."""
        target = f"{folder.rstrip('/')}/{key}"
        fsspec = _fsspec()
        local = fsspec.filesystem("file")
        local.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        if not local.exists(target):
            self.fs.get_file(self.path(key), target)
        return target


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _mtime(entry: dict[str, Any]) -> float | None:
    for name in ("mtime", "LastModified", "created"):
        value = entry.get(name)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        return float(value)
    return None


_opened: dict[tuple[str, str], Store] = {}


def open_store(url: str, options: dict[str, Any] | None = None) -> Store:
    """The `Store` at `url` (one per URL and options in a process)."""
    cache_key = (url.rstrip("/"), repr(sorted((options or {}).items())))
    store = _opened.get(cache_key)
    if store is None:
        store = _opened[cache_key] = Store(url, options)
    return store
