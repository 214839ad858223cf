"""How values become journal bytes and come back.

Every payload starts with one tag byte that says how the rest was written:

``M``  MessagePack of plain data (None, bool, int, float, str, bytes, and lists and
       dicts of those); decodes to an equal value with no type information.
``T``  a type specification followed by MessagePack: for values msgspec can encode
       but not rebuild on its own (dataclasses, msgspec Structs, datetime, date,
       time, timedelta, UUID, Decimal, enums, tuples, sets, and containers of
       those).  The specification is derived from the value itself, so no
       annotation is needed, and decoding rebuilds the same types.
``P``  cloudpickle, for everything else; refused both ways when the engine was
       made with ``pickle=False`` (`durable.SerializationError`).
``R``  a reference (`durable.blobs.refs.BlobRef`: uri, sha256, size, format) to a
       value kept in the engine's blob store because it was large; decoding fetches
       and checks it (`durable.blobs`).

Every payload the engine writes (values, journaled errors, cancellation reasons) is
wrapped in a checksum frame: the byte ``0xC1`` (which MessagePack never uses and UTF-8
never starts with, so no payload written before could begin with it), the CRC-32 of
the rest as 4 big-endian bytes, then the payload as above.  Reads check the CRC first:
a mismatch raises `durable.JournalError` naming the run (and seq), never a wrong
value.  A payload without the frame was written before checksums and is read as it is.

A ``T`` or ``P`` payload names the types it holds by module and name; a reader that
cannot import one gets `durable.errors.TypeNotFound` (the row is fine), not the
`durable.JournalError` of a corrupt payload.

The project follows msgspec's schema-evolution rules for every type that reaches
the journal (its own entry types and the users' Structs and dataclasses alike):

1. a new field must have a default value;
2. a field is never renamed or has its type changed, only added or removed;
3. a removed field's name is never reused for another meaning;
4. a tagged union keeps its tag values forever.

Exceptions are journaled as `ErrorRecord` (type path, message, traceback text and,
when the engine allows it and the exception pickles, the pickled exception), so a
replay re-raises the same type with the same message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import decimal
import enum
import hashlib
import importlib
import io
import pickle as pickle_mod
import re
import struct
import traceback
import uuid
import zlib
from typing import Any, Protocol

import cloudpickle
import msgspec

from durable import errors

__all__ = [
    "Codec",
    "ErrorRecord",
    "corrupt_advice",
    "fingerprint",
    "frame",
    "intact",
    "unframe",
]

_PLAIN_SCALARS = (type(None), bool, int, float, str, bytes)
_CLASS_TYPES = (
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    uuid.UUID,
    decimal.Decimal,
)
_encoder = msgspec.msgpack.Encoder()
_sorted_encoder = msgspec.msgpack.Encoder(order="deterministic")
_plain_decoder = msgspec.msgpack.Decoder()
_spec_decoders: dict[bytes, msgspec.msgpack.Decoder[Any]] = {}
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")

Spec = str | list[Any]

_FRAME = 0xC1  # never a MessagePack byte, never the first byte of UTF-8 text
_FRAME_HEADER = struct.Struct(">BI")  # the marker and the CRC-32 of the rest


def frame(body: bytes) -> bytes:
    """`body` with its checksum frame (see the module docstring)."""
    return _FRAME_HEADER.pack(_FRAME, zlib.crc32(body)) + body


def intact(data: bytes) -> bool:
    """Whether `data` passes its checksum (True for a payload written before checksums)."""
    if not data or data[0] != _FRAME:
        return True
    if len(data) < _FRAME_HEADER.size:
        return False
    stored: int = _FRAME_HEADER.unpack_from(data)[1]
    return zlib.crc32(memoryview(data)[_FRAME_HEADER.size :]) == stored


def unframe(
    data: bytes, *, what: str = "a value", workflow_id: str | None = None, seq: int | None = None
) -> bytes:
    """The payload inside `data`'s checksum frame; `JournalError` when it fails the check.

    A payload without a frame (written before checksums) is returned as it is.
    """
    if not data or data[0] != _FRAME:
        return data
    body = data[_FRAME_HEADER.size :]
    if len(data) < _FRAME_HEADER.size or zlib.crc32(body) != _FRAME_HEADER.unpack_from(data)[1]:
        raise errors.JournalError(
            f"{what} of workflow {workflow_id!r} is corrupt in the journal: its bytes fail "
            "their checksum (they changed after they were written: a disk or copy fault, or "
            f"an edit by hand); the row was left as it is. "
            f"{corrupt_advice(workflow_id, seq)}",
            workflow_id=workflow_id,
            seq=seq,
        )
    return body


def corrupt_advice(workflow_id: str | None, seq: int | None) -> str:
    """What to do about a run whose journal holds a row it cannot read.

    Not `resume`: a resumed run replays the same row and fails the same way.
    """
    run = workflow_id or "ID"
    if seq is None:  # the run's own row (its input, metadata or result)
        return (
            f"Resuming would fail the same way: inspect it with `durable show {run}`, "
            "restore the journal from a backup, or start a new run with the same arguments "
            "(`durable start`)"
        )
    return (
        f"Resuming would fail the same way: inspect it with `durable history {run}`, "
        f"restore the journal from a backup, or `durable fork {run} --from-step {seq}` "
        f"(a new run that reuses the results before seq {seq} and runs on from there)"
    )


class ErrorRecord(msgspec.Struct, frozen=True):
    """A journaled exception: enough to re-raise it, even when it does not pickle."""

    type: str
    message: str
    traceback: str = ""
    args: bytes | None = None
    pickled: bytes | None = None
    state: bytes | None = None


def _is_plain(value: Any, depth: int = 0) -> bool:
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return kind is not int or -(2**63) <= value < 2**64
    if depth > 64:
        return False
    if kind is list:
        return all(_is_plain(item, depth + 1) for item in value)
    if kind is dict:
        return all(
            type(key) in (str, int) and _is_plain(item, depth + 1) for key, item in value.items()
        )
    return False


def _class_path(kind: type) -> str | None:
    if "<locals>" in kind.__qualname__:
        return None
    return f"{kind.__module__}:{kind.__qualname__}"


def _spec_of(value: Any, depth: int = 0) -> Spec | None:
    """Describe the type of `value` so that msgspec can rebuild it, or None if it cannot."""
    if _is_plain(value):
        return "a"
    if depth > 32:
        return None
    kind = type(value)
    if kind in (list, set, frozenset):
        specs = [_spec_of(item, depth + 1) for item in value]
        same = _homogeneous(kind.__name__, specs)
        if same is not None or None in specs:
            return same
        return ["items", kind.__name__, specs]  # mixed types: one spec per item
    if kind is tuple:
        specs = [_spec_of(item, depth + 1) for item in value]
        return None if None in specs else ["tuple", *specs]
    if kind is dict:
        key_specs = [_spec_of(key, depth + 1) for key in value]
        value_specs = [_spec_of(item, depth + 1) for item in value.values()]
        keys, values = _homogeneous("k", key_specs), _homogeneous("v", value_specs)
        if keys is not None and values is not None:
            return ["dict", keys[1], values[1]]
        if None in key_specs or None in value_specs:
            return None
        return ["fields", key_specs, value_specs]  # mixed types: one spec per item
    if kind in _CLASS_TYPES or _is_user_class(kind):
        path = _class_path(kind)
        return None if path is None else ["c", path]
    return None


def _is_user_class(kind: type) -> bool:
    if issubclass(kind, enum.Enum):
        # msgspec encodes enums by value and needs all values str or all int
        values = {type(member.value) for member in kind}
        return values <= {str} or values <= {int}
    return dataclasses.is_dataclass(kind) or issubclass(kind, msgspec.Struct)


def _mixed(spec: Spec) -> bool:
    """Whether a spec holds per-item parts, which a typed decoder cannot express."""
    if isinstance(spec, str):
        return False
    return spec[0] in ("items", "fields") or any(
        _mixed(part)
        for part in spec[1:]
        if isinstance(part, list) and part and isinstance(part[0], str)
    )


def _rebuild(raw: Any, spec: Spec) -> Any:
    """Turn plainly decoded data back into the types `spec` describes."""
    if spec == "a":
        return raw
    assert isinstance(spec, list)
    head = spec[0]
    if head == "items":
        container: Any = {"list": list, "set": set, "frozenset": frozenset}[spec[1]]
        return container(_rebuild(item, part) for item, part in zip(raw, spec[2], strict=True))
    if head == "fields":
        return {
            _rebuild(key, key_spec): _rebuild(item, value_spec)
            for (key, item), key_spec, value_spec in zip(raw.items(), spec[1], spec[2], strict=True)
        }
    if head == "tuple":
        return tuple(_rebuild(item, part) for item, part in zip(raw, spec[1:], strict=True))
    if head in ("list", "set", "frozenset"):
        container = {"list": list, "set": set, "frozenset": frozenset}[head]
        return container(_rebuild(item, spec[1]) for item in raw)
    if head == "dict":
        return {_rebuild(k, spec[1]): _rebuild(v, spec[2]) for k, v in raw.items()}
    return msgspec.convert(raw, _import_path(spec[1]), strict=False)


def _homogeneous(name: str, specs: list[Spec | None]) -> list[Any] | None:
    if None in specs:
        return None
    first = specs[0] if specs else "a"
    if any(spec != first for spec in specs):
        if all(spec == "a" or spec == ["c", "builtins:str"] for spec in specs):
            return [name, "a"]
        return None
    return [name, first]


class _Unimportable(Exception):
    """A type named in a payload that this process cannot import."""

    def __init__(self, module: str, qualname: str | None, reason: str) -> None:
        super().__init__(f"{module}.{qualname}: {reason}")
        self.module = module
        self.qualname = qualname
        self.reason = reason


def _import_path(path: str) -> Any:
    module_name, _, qualname = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise _Unimportable(module_name, qualname, str(exc)) from exc
    return target


class _Unpickler(pickle_mod.Unpickler):
    """cloudpickle's loads (the standard unpickler), telling which global was missing."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError) as exc:
            raise _Unimportable(module, name, str(exc)) from exc


def _unpickle(data: bytes) -> Any:
    return _Unpickler(io.BytesIO(data)).load()


def _type_of(spec: Spec) -> Any:
    if spec == "a":
        return Any
    assert isinstance(spec, list)
    head = spec[0]
    if head == "c":
        return _import_path(spec[1])
    if head == "tuple":
        if len(spec) == 1:
            return tuple[()]
        items = tuple(_type_of(item) for item in spec[1:])
        return tuple.__class_getitem__(items)
    if head == "dict":
        return dict.__class_getitem__((_type_of(spec[1]), _type_of(spec[2])))
    container: Any = {"list": list, "set": set, "frozenset": frozenset}[head]
    return container[_type_of(spec[1])]


def _decode_typed(data: bytes) -> Any:
    """Decode a ``T`` payload: a typed decoder, or plain decoding then rebuilding."""
    size = int.from_bytes(data[1:5], "big")
    spec_bytes = bytes(data[5 : 5 + size])
    spec = _specs.get(spec_bytes)
    if spec is None:
        spec = _specs[spec_bytes] = msgspec.msgpack.decode(spec_bytes)
    if _mixed(spec):
        return _rebuild(_plain_decoder.decode(data[5 + size :]), spec)
    return _decoder_for(spec_bytes).decode(data[5 + size :])


_specs: dict[bytes, Any] = {}


def _decoder_for(spec_bytes: bytes) -> msgspec.msgpack.Decoder[Any]:
    decoder = _spec_decoders.get(spec_bytes)
    if decoder is None:
        spec = msgspec.msgpack.decode(spec_bytes)
        decoder = msgspec.msgpack.Decoder(_type_of(spec))
        _spec_decoders[spec_bytes] = decoder
    return decoder


class BlobHook(Protocol):
    """What the codec needs of `durable.blobs.Blobs`."""

    @property
    def writes(self) -> bool: ...
    def offload_table(self, value: Any) -> bytes | None: ...
    def offload_bytes(self, data: bytes) -> bytes | None: ...
    def load(self, body: bytes, *, what: str, workflow_id: str | None, seq: int | None) -> Any: ...


def _blob_reader(codec: Codec) -> BlobHook:
    if codec.blobs is not None:
        return codec.blobs
    from durable.blobs import offload  # imports this module: imported when first needed

    reader = offload.Blobs(None)
    reader.codec = codec
    return reader


class Codec:
    """Encodes payloads for one engine; `pickle` says whether cloudpickle may be used."""

    def __init__(self, *, pickle: bool = True, blobs: BlobHook | None = None) -> None:
        self.pickle = pickle
        self.blobs = blobs  # large values go to a blob store (durable.blobs); None: inline

    def encode(self, value: Any, *, what: str = "value", workflow_id: str | None = None) -> bytes:
        """Encode `value`; raise `SerializationError` naming `what` when it cannot be.

        With `blobs`, a table or an encoding over its threshold is written to the blob
        store first and the payload is its reference (tag ``R``, `durable.blobs`)."""
        if self.blobs is not None and (ref := self.blobs.offload_table(value)) is not None:
            return frame(ref)
        data = self.encode_inline(value, what=what, workflow_id=workflow_id)
        if self.blobs is not None and (ref := self.blobs.offload_bytes(data)) is not None:
            return frame(ref)
        return data

    async def encode_async(
        self, value: Any, *, what: str = "value", workflow_id: str | None = None
    ) -> bytes:
        """`encode`, in a thread when a blob store may be written (its calls block)."""
        if self.blobs is None or not self.blobs.writes:
            return self.encode(value, what=what, workflow_id=workflow_id)
        return await asyncio.to_thread(self.encode, value, what=what, workflow_id=workflow_id)

    def encode_inline(
        self, value: Any, *, what: str = "value", workflow_id: str | None = None
    ) -> bytes:
        """`encode`, never offloaded."""
        try:
            if _is_plain(value):
                return frame(b"M" + _encoder.encode(value))
            spec = _spec_of(value)
            if spec is not None:
                spec_bytes = _encoder.encode(spec)
                data = b"T" + len(spec_bytes).to_bytes(4, "big") + spec_bytes
                data += _encoder.encode(value)
                _decode_typed(data)  # what cannot come back the same way is not written so
                return frame(data)
        except (
            TypeError,
            ValueError,
            OverflowError,
            UnicodeError,
            msgspec.MsgspecError,
            _Unimportable,  # a class not importable by its own name: pickled instead
        ):
            pass
        return self._pickle(value, what=what, workflow_id=workflow_id)

    def _pickle(self, value: Any, *, what: str, workflow_id: str | None) -> bytes:
        type_name = f"{type(value).__module__}.{type(value).__qualname__}"
        if not self.pickle:
            raise errors.SerializationError(
                f"{what} of workflow {workflow_id!r} is a {type_name}, which msgspec cannot "
                "encode and pickling is off (Engine(pickle=False)); return builtins, "
                "dataclasses, msgspec Structs, datetime, UUID, Decimal, bytes or enums instead",
                workflow_id=workflow_id,
                what=what,
            )
        try:
            pickled: bytes = cloudpickle.dumps(value)
            return frame(b"P" + pickled)
        except Exception as exc:
            raise errors.SerializationError(
                f"{what} of workflow {workflow_id!r} is a {type_name}, which neither msgspec "
                f"nor cloudpickle can encode ({exc}); return plain data instead",
                workflow_id=workflow_id,
                what=what,
            ) from exc

    def decode(
        self,
        data: bytes,
        *,
        what: str = "value",
        workflow_id: str | None = None,
        seq: int | None = None,
    ) -> Any:
        """Decode bytes written by `encode`.

        A type the payload names that this process cannot import raises `TypeNotFound`;
        a corrupt payload (one failing its checksum included) raises `JournalError`.
        """
        body = unframe(data, what=what, workflow_id=workflow_id, seq=seq)
        if body[:1] == b"R":  # a reference to a blob; its errors are durable.BlobError
            return _blob_reader(self).load(body, what=what, workflow_id=workflow_id, seq=seq)
        try:
            return self._decode(body, what=what, workflow_id=workflow_id)
        except errors.DurableError:
            raise
        except _Unimportable as exc:
            raise errors.TypeNotFound(
                workflow_id=workflow_id,
                seq=seq,
                what=what,
                module=exc.module,
                type_name=exc.qualname,
                reason=exc.reason,
            ) from exc
        except ModuleNotFoundError as exc:  # imported while rebuilding, not named
            raise errors.TypeNotFound(
                workflow_id=workflow_id, seq=seq, what=what, module=exc.name, reason=str(exc)
            ) from exc
        except Exception as exc:
            raise errors.JournalError(
                f"{what} of workflow {workflow_id!r} is corrupt in the journal and cannot be "
                f"decoded ({type(exc).__name__}: {exc}); the row was left as it is. "
                f"{corrupt_advice(workflow_id, seq)}",
                workflow_id=workflow_id,
                seq=seq,
            ) from exc

    def _decode(self, data: bytes, *, what: str, workflow_id: str | None) -> Any:
        tag = data[:1]
        if tag == b"M":
            return _plain_decoder.decode(data[1:])
        if tag == b"T":
            return _decode_typed(data)
        if tag == b"P":
            if not self.pickle:
                raise errors.SerializationError(
                    f"{what} of workflow {workflow_id!r} was journaled with pickle and this "
                    "engine has pickling off; open it with Engine(pickle=True) to read it",
                    workflow_id=workflow_id,
                    what=what,
                )
            return _unpickle(data[1:])
        raise ValueError(f"unknown payload tag {tag!r}")

    def encode_error(self, exc: BaseException) -> bytes:
        """Journal an exception: its type, message and traceback, pickled when allowed."""
        kind = type(exc)
        tb = "".join(traceback.format_exception(exc))
        args: bytes | None = None
        if _is_plain(list(exc.args)):
            args = _encoder.encode(list(exc.args))
        pickled: bytes | None = None
        if self.pickle:
            try:
                pickled = cloudpickle.dumps(exc)
            except Exception:
                pickled = None
        state: bytes | None = None
        attributes = {k: v for k, v in vars(exc).items() if not k.startswith("__")}
        if attributes and _is_plain(attributes):
            state = _encoder.encode(attributes)
        record = ErrorRecord(
            type=f"{kind.__module__}:{kind.__qualname__}",
            message=str(exc),
            traceback=tb,
            args=args,
            pickled=pickled,
            state=state,
        )
        return frame(_encoder.encode(record))

    def decode_error(
        self, data: bytes, *, workflow_id: str | None = None, seq: int | None = None
    ) -> BaseException:
        """Rebuild a journaled exception: same type and message whenever the type imports."""
        from durable import codec_errors  # imports this module: imported when first needed

        record = self.decode_error_record(data, workflow_id=workflow_id, seq=seq)
        return codec_errors.rebuild_error(record, allow_pickle=self.pickle)

    def decode_error_record(
        self, data: bytes, *, workflow_id: str | None = None, seq: int | None = None
    ) -> ErrorRecord:
        """The stored record of an error, without rebuilding the exception; `JournalError`
        when it is corrupt."""
        what = "an error record"
        body = unframe(data, what=what, workflow_id=workflow_id, seq=seq)
        try:
            return msgspec.msgpack.decode(body, type=ErrorRecord)
        except Exception as exc:
            raise errors.JournalError(
                f"{what} of workflow {workflow_id!r} is corrupt ({exc}); the row was left "
                f"as it is. {corrupt_advice(workflow_id, seq)}",
                workflow_id=workflow_id,
                seq=seq,
            ) from exc


def fingerprint(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """A short, process-independent digest of a call's arguments.

    Arguments msgspec can encode are hashed as encoded (sets and dict keys sorted);
    anything else falls back to its type and `repr` with memory addresses removed.
    """
    try:
        data = _sorted_encoder.encode([list(args), kwargs])
    except (TypeError, ValueError, OverflowError):
        parts = [f"{type(v).__qualname__}:{_ADDRESS.sub('', repr(v))}" for v in args]
        parts += [
            f"{k}={type(v).__qualname__}:{_ADDRESS.sub('', repr(v))}" for k, v in kwargs.items()
        ]
        data = "\x1f".join(parts).encode()
    return hashlib.blake2b(data, digest_size=8).hexdigest()
