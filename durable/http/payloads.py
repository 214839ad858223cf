"""What goes in and out of the HTTP API as JSON.

Out: runs and journal entries as the CLI's ``--json`` objects (`durable.cli_output`),
values as their JSON form.  A value is read from its journal bytes without rebuilding
its types (``T`` payloads are decoded as plain data, as `durable export` does), so the
server needs none of the workflow's classes and never imports or unpickles anything:
a dataclass or Struct comes back as an object, a datetime as ISO 8601 text, bytes as
base64, a UUID or Decimal as text.  A pickled value has no JSON form and comes back as
the marker ``{"$durable": "not_json", "encoding": "pickle", "size": N}``.

In: request bodies are decoded by msgspec into the Structs below (their JSON Schema is
what `/openapi.json` shows), size-limited while they are read.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
from typing import Annotated, Any, TypeVar

import msgspec
from starlette.requests import Request

from durable import cli_output, codec, errors, export
from durable.blobs import refs
from durable.http.problems import ApiError
from durable.journal import base
from durable.runs import LineageNode, RunInfo

__all__ = [
    "ForkBody",
    "MessageBody",
    "StartBody",
    "decode_cursor",
    "encode_cursor",
    "entry_json",
    "error_json",
    "input_fingerprint",
    "lineage_json",
    "read_body",
    "read_json",
    "run_json",
    "value_json",
]

T = TypeVar("T")

_plain = msgspec.msgpack.Decoder()

# text the journal keeps in a column: no NUL (Postgres text cannot hold one)
Text = Annotated[str, msgspec.Meta(pattern="^[^\x00]*$", max_length=1000)]
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class StartBody(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/workflows/{name}/runs`` (every field optional)."""

    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    queue: Text | None = None
    metadata: dict[str, Any] = {}
    priority: Int64 = 0
    # start options (`durable.starting`): checked by `Engine.submit`, 400 when malformed
    start_at: datetime.datetime | float | None = None
    delay: float | None = None
    partition_key: Text | None = None
    dedup_key: Text | None = None


class MessageBody(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/runs/{id}/messages``."""

    topic: Text
    value: Any = None


class ForkBody(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``POST /api/runs/{id}/fork``."""

    from_step: Int64


# -- values -----------------------------------------------------------------------------


def value_json(data: bytes | None) -> Any:
    """A journaled value in its JSON form, or the marker of a value that has none."""
    if data is None:
        return None
    data = bytes(data)
    if not codec.intact(data):
        return {"$durable": "corrupt", "detail": "its bytes fail their checksum", "size": len(data)}
    if codec.unframe(data)[:1] == b"P":
        return {"$durable": "not_json", "encoding": "pickle", "size": len(data)}
    try:
        return msgspec.to_builtins(export.plain_value(data), str_keys=True)
    except (msgspec.MsgspecError, TypeError, ValueError, OverflowError):
        return {"$durable": "not_json", "encoding": "unreadable", "size": len(data)}


def error_json(data: bytes | None) -> dict[str, Any] | None:
    """A journaled exception as ``{"type", "message"}`` (its traceback stays private)."""
    if data is None:
        return None
    try:
        record = msgspec.msgpack.decode(codec.unframe(bytes(data)), type=codec.ErrorRecord)
    except (msgspec.MsgspecError, errors.JournalError):
        return {"type": "<corrupt error record>", "message": ""}
    return {"type": record.type.replace(":", "."), "message": record.message}


def request_digest(engine_codec: codec.Codec, args: list[Any], kwargs: dict[str, Any]) -> str:
    """What `input_fingerprint` gives for a run started with these arguments whose input
    was offloaded to the blob store: the sha256 of its encoding."""
    data = engine_codec.encode_inline((tuple(args), tuple(kwargs), tuple(kwargs.values())))
    return "sha256:" + hashlib.sha256(data).hexdigest()


def input_json(data: bytes) -> Any:
    """A run's journaled input (positional arguments, keyword names, keyword values) as
    its argument list, or ``{"args": [...], "kwargs": {...}}`` when it has keywords; a
    value of another shape as `value_json` gives it."""
    found = value_json(data)
    if (
        isinstance(found, list)
        and len(found) == 3
        and all(isinstance(part, list) for part in found)
        and len(found[1]) == len(found[2])
        and all(isinstance(name, str) for name in found[1])
    ):
        args, names, values = found
        return {"args": args, "kwargs": dict(zip(names, values, strict=True))} if names else args
    return found


def input_fingerprint(data: bytes) -> str:
    """The fingerprint (`durable.codec.fingerprint`) of a run's journaled input, so that
    it compares with the fingerprint of a request's arguments; an input that is not
    plain data is digested as bytes (it can equal no JSON request)."""
    if codec.intact(data) and codec.unframe(bytes(data))[:1] == b"R":
        return "sha256:" + refs.ref_of(codec.unframe(bytes(data))).sha256  # not fetched
    try:
        args, names, values = export.plain_value(bytes(data))
        return codec.fingerprint(tuple(args), dict(zip(names, values, strict=True)))
    except (msgspec.MsgspecError, errors.JournalError, TypeError, ValueError):
        return "bytes:" + hashlib.blake2b(bytes(data), digest_size=8).hexdigest()


# -- runs and entries -----------------------------------------------------------------------


def run_json(record: base.RunRecord) -> dict[str, Any]:
    """A run as ``durable list --json`` prints it."""
    return cli_output.run_json(RunInfo.from_record(record))


def entry_json(entry: base.EntryRecord) -> dict[str, Any]:
    """A journal entry as ``durable history --json`` prints it; its output in JSON form."""
    out = cli_output.entry_json(entry)
    if entry.status == "cancelled" and entry.output is not None and codec.intact(entry.output):
        out["output"] = codec.unframe(bytes(entry.output)).decode("utf-8", "replace")  # why
    else:
        out["output"] = value_json(entry.output)
    return out


def lineage_json(node: LineageNode) -> dict[str, Any]:
    """A lineage tree: each run with the children it started."""
    return {
        "id": node.id,
        "name": node.name,
        "status": str(node.status),
        "parent_id": node.parent_id,
        "created_at": cli_output.iso(node.created_at),
        "finished_at": cli_output.iso(node.finished_at),
        "children": [lineage_json(child) for child in node.children],
    }


# -- cursors --------------------------------------------------------------------------------


def encode_cursor(record: base.RunRecord) -> str:
    """The cursor of the page after `record` (its creation time and id)."""
    raw = msgspec.json.encode([record.created_at, record.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[float, str]:
    """The inverse of `encode_cursor`; `ApiError` 400 for anything else."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        at, run_id = msgspec.json.decode(raw, type=tuple[float, str])
    except (ValueError, msgspec.MsgspecError):
        raise ApiError(
            400, "bad_cursor", f"cursor {text!r} is not one this API returned as next_cursor"
        ) from None
    return at, run_id


# -- request bodies ---------------------------------------------------------------------------


async def read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused with 413 as soon as it exceeds `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"the request body exceeds {limit} bytes")


async def read_json(request: Request, kind: type[T], limit: int, *, empty_ok: bool = False) -> T:
    """The body decoded as `kind`: 400 with msgspec's message (path, expected, found)."""
    body = await read_body(request, limit)
    if not body.strip() and empty_ok:
        body = b"{}"
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise ApiError(400, "invalid_body", f"the body does not fit: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ApiError(400, "bad_json", f"the body is not JSON: {exc}") from None
