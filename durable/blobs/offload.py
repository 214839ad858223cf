"""`Blobs`: the codec's hook that moves large values to a `Store` and reads them back.

`offload_table` and `offload_bytes` are called by `durable.codec.Codec.encode` (before
and after encoding); they write the blob and return the reference payload that the
journal keeps instead of the value, or None to keep the value inline.  The blob is
written before the payload is returned, so before the journal entry holding it
commits: a crash in between leaves an orphan blob (harmless, removed by
``durable prune``), never a reference to a blob that is not there.

`load` reads a reference payload back: it fetches the blob, checks its sha256 and size,
and decodes it.  A missing blob, an unreachable store or a mismatch raise
`durable.BlobError` naming the run, the call and what to do; never a wrong value.
"""

from __future__ import annotations

import contextvars
import hashlib
import io
from typing import TYPE_CHECKING, Any

from durable import errors
from durable.blobs import refs, tables
from durable.blobs.store import Store, open_store

if TYPE_CHECKING:
    from durable.codec import Codec

__all__ = ["DEFAULT_THRESHOLD", "Blobs", "current"]

DEFAULT_THRESHOLD = 262144  # 256 KiB, as Temporal's payload limit and Step Functions' cap


class Blobs:
    """Large values of one engine: where they go (`store`) and from what size.

    Parameters
    ----------
    store:
        Where new blobs are written; None: nothing is offloaded (references already in
        the journal are still read, from the URL they name).
    threshold:
        Values whose encoding exceeds this many bytes are offloaded.
    options:
        fsspec options for reading references outside `store` (e.g. S3 credentials).
    """

    def __init__(
        self,
        store: Store | None,
        *,
        threshold: int = DEFAULT_THRESHOLD,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.store = store
        self.threshold = threshold
        self.options = dict(options or (store.options if store is not None else {}))
        self.codec: Codec | None = None

    @property
    def writes(self) -> bool:
        """Whether encoding may write to a store (then the engine encodes in a thread)."""
        return self.store is not None

    # -- writing -----------------------------------------------------------------------

    def offload_table(self, value: Any) -> bytes | None:
        """The reference payload for a table larger than the threshold, after writing
        it as Parquet; None for anything else."""
        if self.store is None:
            return None
        kind = tables.kind_of(value)
        if kind is None or tables.estimate(value, kind) <= self.threshold:
            return None
        return refs.ref_payload(self._write_table(self.store, value, kind))

    def offload_bytes(self, data: bytes) -> bytes | None:
        """The reference payload for an encoding larger than the threshold, after
        writing it; None to keep it inline."""
        if self.store is None or len(data) <= self.threshold:
            return None
        return refs.ref_payload(self._write_bytes(self.store, data))

    def write(self, value: Any) -> refs.BlobRef:
        """Store `value` whatever its size (for `durable.Ref.put`)."""
        store = self._require_store()
        kind = tables.kind_of(value)
        if kind is not None:
            return self._write_table(store, value, kind)
        codec = self._codec()
        return self._write_bytes(store, codec.encode_inline(value, what="a durable.Ref"))

    def _write_table(self, store: Store, value: Any, kind: str) -> refs.BlobRef:
        key, sha, size = store.put_stream(lambda file: tables.write(value, kind, file), "parquet")
        return refs.BlobRef(store.uri(key), sha, size, "parquet", kind)

    def _write_bytes(self, store: Store, data: bytes) -> refs.BlobRef:
        key, sha, size = store.put_bytes(data, "bin")
        return refs.BlobRef(store.uri(key), sha, size, "codec")

    def _require_store(self) -> Store:
        if self.store is None:
            raise errors.JournalError(
                "durable.Ref.put needs a blob store: open the engine with "
                "Engine(url, store='file:///...' or 's3://bucket/prefix'), or on SQLite "
                "with offload_over=N for the folder beside the database"
            )
        return self.store

    def _codec(self) -> Codec:
        if self.codec is None:
            from durable.codec import Codec

            self.codec = Codec()
        return self.codec

    # -- reading -----------------------------------------------------------------------

    def load(
        self,
        body: bytes,
        *,
        what: str = "a value",
        workflow_id: str | None = None,
        seq: int | None = None,
    ) -> Any:
        """The value behind a reference payload body (tag ``R``)."""
        return self.read(refs.ref_of(body), what=what, workflow_id=workflow_id, seq=seq)

    def read(
        self,
        ref: refs.BlobRef,
        *,
        what: str = "a value",
        workflow_id: str | None = None,
        seq: int | None = None,
    ) -> Any:
        """The value behind `ref`, checked against its sha256 and size."""

        def fail(reason: str) -> errors.BlobError:
            return _error(ref, reason, what=what, workflow_id=workflow_id, seq=seq)

        try:
            store, key = self._locate(ref.uri)
            if ref.format == "parquet" and store.local:
                found = store.hash_of(key)  # hashed in chunks, then read: no copy in memory
                data: bytes | None = None
            else:
                data = store.read_bytes(key)
                found = None
        except FileNotFoundError as exc:
            raise fail("is missing (deleted, or the store's URL changed)") from exc
        except Exception as exc:  # the store's own errors (network, credentials)
            raise fail(f"cannot be read ({type(exc).__name__}: {exc})") from exc
        if data is not None:
            if len(data) != ref.size:
                raise fail(f"fails its sha256 check: it holds {len(data)} bytes, not {ref.size}")
            found = hashlib.sha256(data).hexdigest()
        if found != ref.sha256:
            raise fail(f"fails its sha256 (it holds {found})")
        if ref.format == "parquet":
            if data is None:  # a local file: memory-mapped, no copy of its bytes in memory
                return tables.read(store.path(key), ref.kind)
            return tables.read(io.BytesIO(data), ref.kind)
        assert data is not None
        return self._codec().decode(data, what=what, workflow_id=workflow_id, seq=seq)

    def _locate(self, uri: str) -> tuple[Store, str]:
        if self.store is not None:
            key = self.store.key_of(uri)
            if key is not None:
                return self.store, key
        root, _, tail = uri.rpartition("/sha256/")
        return open_store(root, self.options), f"sha256/{tail}"


def _error(
    ref: refs.BlobRef, reason: str, *, what: str, workflow_id: str | None, seq: int | None
) -> errors.BlobError:
    call = "" if seq is None or f"seq {seq}" in what else f" (seq {seq})"
    run = workflow_id or "ID"
    if seq is None:
        after = f"or start a new run with the same arguments (`durable start`) instead of {run!r}"
    else:
        after = f"or `durable fork {run} --from-step {seq}` to run that call again"
    return errors.BlobError(
        f"{what} of workflow {workflow_id!r}{call} is kept in the blob store at {ref.uri}, "
        f"which {reason}; the journal was left as it is and no value was returned. Restore "
        f"the blob (sha256 {ref.sha256}, {ref.size} bytes) from a backup of the store, "
        f"check the store's URL and credentials (Engine(store=..., store_options=...)), {after}",
        workflow_id=workflow_id,
        seq=seq,
        uri=ref.uri,
        reason=reason,
    )


_current: contextvars.ContextVar[Blobs | None] = contextvars.ContextVar(
    "durable_blobs", default=None
)
_last: list[Blobs] = []


def activate(blobs: Blobs) -> None:
    """Make `blobs` the one `durable.Ref` uses in this context (an engine opening)."""
    _current.set(blobs)
    _last[:] = [blobs]


def current() -> Blobs:
    """The blobs of the engine in this context (else the last one opened, else a reader
    that finds stores by the URL a reference names)."""
    found = _current.get()
    if found is not None:
        return found
    if _last:
        return _last[0]
    return Blobs(None)


def configure(
    database_url: str,
    *,
    store: str | None,
    offload_over: int | None,
    options: dict[str, Any] | None,
) -> Blobs:
    """The engine's `Blobs` for its options (see `durable.Engine`).

    Offloading is off unless `store` or `offload_over` is given; `offload_over` alone
    on a SQLite file uses the folder ``<database>.blobs`` beside it.
    """
    if offload_over is not None and offload_over < 0:
        raise ValueError(f"offload_over must be 0 or more bytes, not {offload_over!r}")
    if store is None and offload_over is None:
        return Blobs(None, options=options)
    if store is None:
        store = default_store(database_url)
    threshold = DEFAULT_THRESHOLD if offload_over is None else offload_over
    return Blobs(open_store(store, options), threshold=threshold)


def default_store(database_url: str) -> str:
    """The folder beside a SQLite database file (``app.db`` -> ``app.db.blobs``)."""
    import os
    import uuid

    from durable.journal.sqlite import path_from_url

    if database_url.split(":", 1)[0].lower() != "sqlite":
        raise ValueError(
            f"offload_over on {database_url.split('@')[-1]!r} needs a store: "
            "Engine(url, store='s3://bucket/prefix' or 'file:///var/lib/app/blobs')"
        )
    path = path_from_url(database_url)
    if path.startswith("file:") or path == ":memory:":  # an in-memory journal
        return f"memory://durable-{uuid.uuid4().hex}"
    return "file://" + os.path.abspath(path) + ".blobs"
