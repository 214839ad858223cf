"""References to blobs: the journal's `BlobRef` and the public, explicitly lazy `Ref`.

A journal payload whose value was offloaded is the tag byte ``R`` followed by a
MessagePack `BlobRef` (inside the codec's checksum frame, like every payload).  Decoding
it fetches the blob, checks its sha256 and returns the value.

`durable.Ref` is for values the workflow only passes along: a step returns
``durable.Ref.put(table)``; the journal keeps the small reference; the workflow (and
every replay of it) holds the reference without fetching anything, and whichever step
needs the value calls ``ref.get()`` (or ``await ref.load()``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Iterable
from typing import Any

import msgspec

__all__ = ["KEY_PATTERN", "BlobRef", "Ref", "keys_in"]

# every reference names its blob by URL, so the key shows in the raw payload bytes
# (MessagePack stores strings as they are, pickles too): prune finds references by it
KEY_PATTERN = re.compile(rb"sha256/[0-9a-f]{2}/[0-9a-f]{64}\.[a-z]+")
MARKER = b"sha256/"


class BlobRef(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """Where an offloaded value is and how to check and read it."""

    uri: str
    sha256: str
    size: int
    format: str  # "parquet" or "codec" (the codec's own bytes)
    kind: str | None = None  # for Parquet: "arrow", "pandas" or "polars"


_ref_encoder = msgspec.msgpack.Encoder()
_ref_decoder = msgspec.msgpack.Decoder(BlobRef)


def ref_payload(ref: BlobRef) -> bytes:
    """The payload body (before the checksum frame) of an offloaded value."""
    return b"R" + _ref_encoder.encode(ref)


def ref_of(body: bytes) -> BlobRef:
    """The `BlobRef` in a payload body written by `ref_payload`."""
    return _ref_decoder.decode(body[1:])


def keys_in(payloads: Iterable[bytes | None]) -> set[str]:
    """The blob keys that the payloads reference."""
    found: set[str] = set()
    for data in payloads:
        if data and MARKER in data:
            found.update(match.decode() for match in KEY_PATTERN.findall(bytes(data)))
    return found


@dataclasses.dataclass(frozen=True)
class Ref:
    """A value kept in the blob store, fetched only when asked for.

    A step returns ``durable.Ref.put(value)`` instead of the value: the journal keeps
    this reference (always offloaded, whatever its size), the workflow receives it, and
    replaying the workflow never fetches the value.  ``ref.get()`` (in a sync step) or
    ``await ref.load()`` reads it back, checking its sha256 (`durable.BlobError` when
    the blob is missing or altered).  A `Ref` can be passed to steps, child workflows
    and messages like any small value.

    Parameters
    ----------
    uri, sha256, size, format, kind:
        Set by `put`; not meant to be written by hand.
    """

    uri: str
    sha256: str
    size: int
    format: str = "codec"
    kind: str | None = None

    @classmethod
    def put(cls, value: Any) -> Ref:
        """Store `value` in the current engine's blob store and return its reference.

        Tables go as Parquet, anything else as the codec's bytes.  Blocks while it
        writes: call it from a step (sync steps run in a thread), or use `aput`.
        """
        from durable.blobs import offload

        ref = offload.current().write(value)
        return cls(ref.uri, ref.sha256, ref.size, ref.format, ref.kind)

    @classmethod
    async def aput(cls, value: Any) -> Ref:
        """`put` in a thread."""
        return await asyncio.to_thread(cls.put, value)

    def get(self) -> Any:
        """The value, read from the store and checked against its sha256."""
        from durable.blobs import offload

        blob = BlobRef(self.uri, self.sha256, self.size, self.format, self.kind)
        return offload.current().read(blob, what="a durable.Ref")

    async def load(self) -> Any:
        """`get` in a thread."""
        return await asyncio.to_thread(self.get)

    def __repr__(self) -> str:  # stable across processes: call fingerprints use it
        return f"Ref({self.uri!r}, size={self.size}, format={self.format!r})"
