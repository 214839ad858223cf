"""Rebuilding journaled exceptions (`durable.codec.ErrorRecord`) on replay."""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Callable

import cloudpickle

from durable import codec
from durable.codec import ErrorRecord

__all__ = ["RemoteError", "rebuild_error"]


def rebuild_error(record: ErrorRecord, *, allow_pickle: bool) -> BaseException:
    """Turn an `ErrorRecord` back into an exception of the recorded type when possible.

    The type is looked up by its recorded name first (``__main__`` included: the running
    script's class), so that ``except`` clauses match after a restart.  cloudpickle
    pickles a script's classes by value, and unpickling them in a new process makes a
    look-alike class; such an exception is given the class found by name.
    """
    kind = _exception_type(record.type)
    pickled = _unpickle_error(record) if allow_pickle else None
    if pickled is not None:
        if kind is not None and type(pickled) is not kind:
            _reclass(pickled, kind)
        return pickled
    built = None if kind is None else _construct(record, kind)
    return RemoteError(record) if built is None else built


def _unpickle_error(record: ErrorRecord) -> BaseException | None:
    if record.pickled is None:
        return None
    try:
        exc = cloudpickle.loads(record.pickled)
    except Exception:
        return None
    return exc if isinstance(exc, BaseException) else None


def _reclass(exc: BaseException, kind: type[BaseException]) -> None:
    """Give `exc` the class `kind` when its own is a copy of it (same module and name)."""
    own = type(exc)
    if (own.__module__, own.__qualname__) == (kind.__module__, kind.__qualname__):
        with contextlib.suppress(TypeError):  # layouts differ (__slots__): leave it as it is
            exc.__class__ = kind


def _construct(record: ErrorRecord, kind: type[BaseException]) -> BaseException | None:
    for build in _constructors(record):
        try:
            exc = build(kind)
        except Exception:
            continue
        if record.state is not None:
            with contextlib.suppress(Exception):
                exc.__dict__.update(codec._plain_decoder.decode(record.state))
        return exc
    return None


def _constructors(record: ErrorRecord) -> list[Callable[[type[BaseException]], BaseException]]:
    builders: list[Callable[[type[BaseException]], BaseException]] = []
    if record.args is not None:
        args = codec._plain_decoder.decode(record.args)
        builders.append(lambda kind: kind(*args))
    builders.append(lambda kind: kind(record.message))
    return builders


def _exception_type(path: str) -> type[BaseException] | None:
    try:
        kind = codec._import_path(path) if ":" in path else getattr(builtins, path)
    except Exception:
        return None
    if isinstance(kind, type) and issubclass(kind, BaseException):
        return kind
    return None


class RemoteError(Exception):
    """Stands in for a journaled exception whose type cannot be imported or rebuilt."""

    def __init__(self, record: ErrorRecord) -> None:
        super().__init__(f"{record.type}: {record.message}")
        self.record = record
