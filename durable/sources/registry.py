"""Which workflow consumes which event source: filled by ``@workflow(on=...)``."""

from __future__ import annotations

from typing import Any

__all__ = ["register", "subscriptions", "unregister"]

_sources: dict[str, Any] = {}


def register(workflow_name: str, source: Any) -> None:
    """Make `workflow_name` consume `source` in every executing engine of this process
    (the last registration of a name wins)."""
    for method in ("open", "read", "offset", "ack", "seek", "close"):
        if not callable(getattr(source, method, None)):
            raise TypeError(
                f"@workflow(on=...) of {workflow_name!r} needs an event source (durable.Topic, "
                f"durable.sources.RedisStream, JetStream or Objects), got {source!r}"
            )
    _sources[workflow_name] = source


def subscriptions() -> dict[str, Any]:
    """Every workflow name with the source it consumes."""
    return dict(_sources)


def unregister(workflow_name: str) -> None:
    """Stop `workflow_name` consuming its source in engines opened from now on."""
    _sources.pop(workflow_name, None)
