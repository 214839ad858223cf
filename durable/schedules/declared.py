"""Which workflow declares which schedule: filled by ``@workflow(schedule=...)``."""

from __future__ import annotations

from durable.schedules import spec

__all__ = ["declare", "declared", "undeclare"]

_declared: dict[str, spec.Spec] = {}


def declare(workflow_name: str, schedule: spec.Spec) -> None:
    """Make executing engines that imported `workflow_name` keep a schedule of that name
    in the journal (the last declaration of a name wins)."""
    if not isinstance(schedule, spec.Cron | spec.Every):
        raise TypeError(
            f"@workflow(schedule=...) of {workflow_name!r} needs durable.Cron or durable.Every, "
            f"got {schedule!r}"
        )
    _declared[workflow_name] = schedule


def declared() -> dict[str, spec.Spec]:
    """Every workflow name with the schedule its decorator declares."""
    return dict(_declared)


def undeclare(workflow_name: str) -> None:
    """Forget `workflow_name`'s schedule in engines opened from now on (the stored
    schedule stays until deleted)."""
    _declared.pop(workflow_name, None)
