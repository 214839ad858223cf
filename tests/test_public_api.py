"""The public surface is exactly what API.md names (plus the row types it returns)."""

from __future__ import annotations

import durable
from durable import errors


def test_all_is_pinned() -> None:
    assert sorted(durable.__all__) == sorted(
        [
            "BlobError",
            "Cancelled",
            "ChildHandle",
            "Cron",
            "DurableError",
            "Engine",
            "Every",
            "ExecutionContext",
            "HistoryEntry",
            "JournalError",
            "LineageNode",
            "NonDeterminismError",
            "NotRegistered",
            "Queue",
            "Rejected",
            "Request",
            "Ref",
            "Retry",
            "Run",
            "RunFinished",
            "RunInfo",
            "SerializationError",
            "Status",
            "Step",
            "StreamChunk",
            "Topic",
            "Workflow",
            "WorkflowFailed",
            "WorkflowNotFound",
            "close_stream",
            "context",
            "continue_as_new",
            "heartbeat",
            "deprecate_patch",
            "now",
            "patched",
            "race",
            "random",
            "recv",
            "recv_any",
            "recv_request",
            "send",
            "set_event",
            "sleep",
            "start_child",
            "step",
            "timeout",
            "transaction",
            "uuid4",
            "workflow",
            "write_stream",
        ]
    )
    for name in durable.__all__:
        assert getattr(durable, name) is not None


def test_error_tree() -> None:
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, durable.DurableError)
        assert cls.__doc__, f"{name} needs a docstring: it is its default message"


def test_errors_pickle_with_their_attributes() -> None:
    import pickle

    error = durable.NonDeterminismError(workflow_id="w", seq=3, expected="a", recorded="b")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is durable.NonDeterminismError
    assert (copy.workflow_id, copy.seq, copy.expected, copy.recorded) == ("w", 3, "a", "b")
    assert str(copy) == str(error)


def test_status_values_are_the_api_strings() -> None:
    assert [s.value for s in durable.Status] == [
        "PENDING",
        "RUNNING",
        "SLEEPING",
        "SUCCEEDED",
        "FAILED",
        "CANCELLED",
    ]
