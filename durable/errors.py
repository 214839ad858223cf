"""Every error `durable` raises, in one tree.

::

    DurableError
    ├── NonDeterminismError   replay asked for a different call than the journal holds
    ├── WorkflowFailed        the run ended with an exception (``__cause__`` is that exception)
    ├── Cancelled             the run was cancelled
    ├── SerializationError    a value could not be encoded (or decoded)
    │   └── TypeNotFound      a journaled value's type cannot be imported here
    ├── JournalError          storage unreachable, schema too new, corrupt row
    │   └── BlobError         an offloaded value's blob is missing, unreadable or altered
    ├── WorkflowNotFound      no run with that id
    ├── NotRegistered         a journal names a workflow this process never imported
    ├── ScheduleNotFound      no schedule with that id
    ├── InvalidStart          a start's options are malformed (also a ValueError)
    ├── RunFinished           a message or request for a run that has finished
    ├── Rejected              the run rejected a request (`Request.reject`)
    └── RequestAnswered       a request was replied to (or rejected) already

Each class docstring is its default message.  Every error carries structured
attributes (``workflow_id`` and, where it applies, ``seq``, ``expected``,
``recorded``) and pickles across processes.

Control-flow signals that user code must not swallow are not errors: they derive
from `BaseException` and live in `durable.runtime.signals`.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BlobError",
    "Cancelled",
    "DurableError",
    "InvalidStart",
    "JournalError",
    "NonDeterminismError",
    "NotRegistered",
    "Rejected",
    "RequestAnswered",
    "RunFinished",
    "ScheduleNotFound",
    "SerializationError",
    "TypeNotFound",
    "WorkflowFailed",
    "WorkflowNotFound",
]


class DurableError(Exception):
    """A `durable` operation failed."""

    def __init__(self, message: str | None = None, *, workflow_id: str | None = None) -> None:
        self.message = message or (type(self).__doc__ or "").strip()
        self.workflow_id = workflow_id
        super().__init__(self.message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls: type[DurableError], message: str, state: dict[str, Any]) -> DurableError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class NonDeterminismError(DurableError):
    """The workflow's code made a different call than its journal records."""

    def __init__(
        self,
        message: str | None = None,
        *,
        workflow_id: str | None = None,
        seq: int | None = None,
        expected: str | None = None,
        recorded: str | None = None,
    ) -> None:
        self.seq = seq
        self.expected = expected
        self.recorded = recorded
        if message is None:
            message = (
                f"workflow {workflow_id!r} diverged from its journal at seq {seq}: "
                f"the journal holds {recorded}, the code asked for {expected}. "
                "Restore the previous code (or guard the change with a new workflow name), "
                f"then `engine.resume({workflow_id!r})` carries the run on from its journal."
            )
        super().__init__(message, workflow_id=workflow_id)


class WorkflowFailed(DurableError):
    """The workflow ended with an exception; `__cause__` holds it."""

    def __init__(
        self,
        message: str | None = None,
        *,
        workflow_id: str | None = None,
        error_type: str | None = None,
        error_message: str | None = None,
        traceback: str | None = None,
    ) -> None:
        self.error_type = error_type
        self.error_message = error_message
        self.traceback = traceback
        if message is None:
            message = f"workflow {workflow_id!r} failed with {error_type}: {error_message}"
            if error_type == "durable.errors.JournalError":
                # a row of its journal it cannot read: a resumed run would read it again
                message += "."
            else:
                message += (
                    f". Fix the cause, then `engine.resume({workflow_id!r})` retries it from "
                    "its journal."
                )
        super().__init__(message, workflow_id=workflow_id)


class Cancelled(DurableError):
    """The workflow was cancelled."""

    def __init__(self, message: str | None = None, *, workflow_id: str | None = None) -> None:
        if message is None:
            message = (
                f"workflow {workflow_id!r} was cancelled; "
                f"`engine.resume({workflow_id!r})` carries it on from its journal."
            )
        super().__init__(message, workflow_id=workflow_id)


class SerializationError(DurableError):
    """A value could not be encoded for the journal, or a journaled value could not be decoded."""

    def __init__(
        self,
        message: str | None = None,
        *,
        workflow_id: str | None = None,
        seq: int | None = None,
        what: str | None = None,
    ) -> None:
        self.seq = seq
        self.what = what
        super().__init__(message, workflow_id=workflow_id)


class TypeNotFound(SerializationError):
    """A journaled value is of a type this process cannot import; the journal row is intact."""

    def __init__(
        self,
        message: str | None = None,
        *,
        workflow_id: str | None = None,
        seq: int | None = None,
        what: str | None = None,
        module: str | None = None,
        type_name: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.module = module
        self.type_name = type_name
        if message is None:
            kind = f"a {module}.{type_name}" if type_name else f"of a type from {module!r}"
            message = (
                f"{what or 'a value'} of workflow {workflow_id!r} is {kind}, which this "
                f"process cannot import ({reason or 'not found'}); the journal row is "
                f"intact: install module {module!r} (or the version that defines "
                f"{type_name or 'the type'}) where this process runs, and import it "
                "(`-m MODULE` on the command line), then read the value again"
            )
        super().__init__(message, workflow_id=workflow_id, seq=seq, what=what)


class JournalError(DurableError):
    """The journal's database could not be used: unreachable, newer schema, or a corrupt row."""

    def __init__(
        self,
        message: str | None = None,
        *,
        workflow_id: str | None = None,
        seq: int | None = None,
    ) -> None:
        self.seq = seq
        super().__init__(message, workflow_id=workflow_id)


class BlobError(JournalError):
    """A value kept in the blob store is missing, cannot be read, or fails its sha256."""

    def __init__(
        self,
        message: str | None = None,
        *,
        workflow_id: str | None = None,
        seq: int | None = None,
        uri: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.uri = uri
        self.reason = reason
        super().__init__(message, workflow_id=workflow_id, seq=seq)


class WorkflowNotFound(DurableError):
    """No run with that id exists in the journal."""

    def __init__(self, message: str | None = None, *, workflow_id: str | None = None) -> None:
        if message is None:
            message = (
                f"no run with id {workflow_id!r} in the journal; "
                "`durable list` shows the ids it holds."
            )
        super().__init__(message, workflow_id=workflow_id)


class ScheduleNotFound(DurableError):
    """No schedule with that id exists in the journal."""

    def __init__(self, message: str | None = None, *, schedule_id: str | None = None) -> None:
        self.schedule_id = schedule_id
        if message is None:
            message = (
                f"no schedule with id {schedule_id!r} in the journal; "
                "`durable schedule list` shows the ids it holds."
            )
        super().__init__(message)


class NotRegistered(DurableError):
    """The journal names a workflow this process never imported."""

    def __init__(
        self,
        message: str | None = None,
        *,
        workflow_id: str | None = None,
        name: str | None = None,
    ) -> None:
        self.name = name
        if message is None:
            message = (
                f"run {workflow_id!r} is of workflow {name!r}, which this process has not "
                "registered; import the module that defines it (`-m MODULE` on the command "
                "line) or check the `name=` given to @workflow."
            )
        super().__init__(message, workflow_id=workflow_id)


class InvalidStart(DurableError, ValueError):
    """A run could not be started: its workflow name or start options are malformed."""


class RunFinished(DurableError):
    """The run has finished: it takes no more messages or requests."""

    def __init__(
        self,
        message: str | None = None,
        *,
        workflow_id: str | None = None,
        status: str | None = None,
        what: str = "a message",
    ) -> None:
        self.status = status
        if message is None:
            message = (
                f"run {workflow_id!r} has finished ({status}): it receives no more messages "
                f"or requests, so {what} was not delivered; start a new run (or "
                f"`engine.resume({workflow_id!r})` a failed or cancelled one) to deliver it"
            )
        super().__init__(message, workflow_id=workflow_id)


class Rejected(DurableError):
    """The run rejected the request; `reason` is the message it gave `Request.reject`."""

    def __init__(
        self,
        message: str | None = None,
        *,
        workflow_id: str | None = None,
        name: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.name = name
        self.reason = reason
        if message is None:
            message = f"run {workflow_id!r} rejected request {name!r}: {reason}"
        super().__init__(message, workflow_id=workflow_id)


class RequestAnswered(DurableError):
    """The request was answered already: a request takes one reply or one rejection."""

    def __init__(
        self,
        message: str | None = None,
        *,
        workflow_id: str | None = None,
        name: str | None = None,
    ) -> None:
        self.name = name
        if message is None:
            message = (
                f"run {workflow_id!r} answered request {name!r} twice: call `reply` or "
                "`reject` once per request (the first answer is the one its caller got)"
            )
        super().__init__(message, workflow_id=workflow_id)
