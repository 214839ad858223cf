"""Large values in object storage: a folder, S3 (or compatible) or memory, via fsspec.

``Engine(url, store=..., offload_over=...)``: a value whose encoding exceeds
``offload_over`` bytes (workflow input, step output, message, event, result) is written
to the store before its journal entry commits, and the journal keeps a reference
(`refs.BlobRef`: uri, sha256, size, format).  Tables (pyarrow, pandas, polars) are
written as Parquet (`tables`), the rest as the codec's bytes; keys are content
addresses (`store`), so a retried write is harmless.  `offload.Blobs` is the codec's
hook; `refs.Ref` (``durable.Ref``) is the explicitly lazy handle; `sweep` finds the
blobs no run references any more.
"""

from __future__ import annotations

from durable.blobs.offload import DEFAULT_THRESHOLD, Blobs
from durable.blobs.refs import BlobRef, Ref
from durable.blobs.store import Store, open_store

__all__ = ["DEFAULT_THRESHOLD", "BlobRef", "Blobs", "Ref", "Store", "open_store"]
