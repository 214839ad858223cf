"""The schedule endpoints of the HTTP API (``/api/schedules...``): the same operations
as ``engine.schedules`` and ``durable schedule``, declared as `Endpoint` rows that
`durable.http.routes` appends to its table (so they are routed, authenticated and
documented in ``/openapi.json`` like the others)."""

from __future__ import annotations

import datetime
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from durable.engine import Engine
from durable.http import paths, payloads
from durable.http.openapi import Endpoint
from durable.http.problems import ApiError

__all__ = ["ENDPOINTS", "BackfillBody", "PauseBody", "ScheduleBody"]


class ScheduleBody(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/schedules``: exactly one of `cron` and `every`."""

    id: str
    workflow: str
    cron: str | None = None
    every: float | None = None
    args: list[Any] = msgspec.field(default_factory=list)
    tz: str | None = None
    overlap: str = "skip"
    catchup: str = "latest"
    catchup_window: float | None = None
    jitter: float = 0.0
    paused: bool = False
    note: str | None = None


class PauseBody(msgspec.Struct, forbid_unknown_fields=True):
    note: str | None = None


class BackfillBody(msgspec.Struct, forbid_unknown_fields=True):
    """The ticks in ``[start, end)``: ISO 8601 dates or date-times (UTC unless they say)."""

    start: str
    end: str


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.durable.engine
    return engine


def _limit(request: Request) -> int:
    limit: int = request.app.state.durable.max_body
    return limit


def _when(name: str, text: str) -> datetime.datetime:
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "invalid_body", f"{name}={text!r}: give an ISO 8601 date") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=datetime.UTC)


async def list_schedules(request: Request) -> Response:
    found = await _engine(request).schedules.list()
    return JSONResponse({"schedules": [info.to_json() for info in found]})


async def create_schedule(request: Request) -> Response:
    body = await payloads.read_json(request, ScheduleBody, _limit(request))
    try:
        info = await _engine(request).schedules.create(
            body.id,
            body.workflow,
            cron=body.cron,
            every=body.every,
            args=body.args,
            tz=body.tz,
            overlap=body.overlap,
            catchup=body.catchup,
            catchup_window=body.catchup_window,
            jitter=body.jitter,
            paused=body.paused,
            note=body.note,
        )
    except (ValueError, ImportError) as exc:
        raise ApiError(400, "invalid_schedule", str(exc)) from None
    return JSONResponse(info.to_json(), 201)


async def get_schedule(request: Request) -> Response:
    return JSONResponse(
        (await _engine(request).schedules.get(paths.segment(request, "id"))).to_json()
    )


async def pause_schedule(request: Request) -> Response:
    body = await payloads.read_json(request, PauseBody, _limit(request), empty_ok=True)
    try:
        info = await _engine(request).schedules.pause(paths.segment(request, "id"), note=body.note)
    except ValueError as exc:
        raise ApiError(400, "invalid_body", str(exc)) from None
    return JSONResponse(info.to_json())


async def resume_schedule(request: Request) -> Response:
    return JSONResponse(
        (await _engine(request).schedules.resume(paths.segment(request, "id"))).to_json()
    )


async def trigger_schedule(request: Request) -> Response:
    run = await _engine(request).schedules.trigger(paths.segment(request, "id"))
    return JSONResponse({"id": run.id}, 201)


async def backfill_schedule(request: Request) -> Response:
    body = await payloads.read_json(request, BackfillBody, _limit(request))
    start, end = _when("start", body.start), _when("end", body.end)
    try:
        runs = await _engine(request).schedules.backfill(paths.segment(request, "id"), start, end)
    except ValueError as exc:
        raise ApiError(400, "invalid_range", str(exc)) from None
    return JSONResponse({"runs": [run.id for run in runs]}, 201)


async def delete_schedule(request: Request) -> Response:
    schedule_id = paths.segment(request, "id")
    await _engine(request).schedules.delete(schedule_id)
    return JSONResponse({"id": schedule_id, "deleted": True})


_NOT_FOUND = {404: "no schedule with this id"}
_TAGS = ("schedules",)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "GET",
        "/api/schedules",
        list_schedules,
        "every schedule",
        {200: "the schedules"},
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        "/api/schedules",
        create_schedule,
        "create a schedule (an id that exists: its definition is replaced)",
        {201: "the schedule", 400: "bad input"},
        body=ScheduleBody,
        tags=_TAGS,
    ),
    Endpoint(
        "GET",
        "/api/schedules/{id}",
        get_schedule,
        "a schedule and its latest skipped ticks",
        {200: "the schedule", **_NOT_FOUND},
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        "/api/schedules/{id}/pause",
        pause_schedule,
        "pause a schedule (due ticks are skipped: paused)",
        {200: "the schedule", **_NOT_FOUND, 400: "bad input"},
        body=PauseBody,
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        "/api/schedules/{id}/resume",
        resume_schedule,
        "fire again from the next tick",
        {200: "the schedule", **_NOT_FOUND},
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        "/api/schedules/{id}/trigger",
        trigger_schedule,
        "start a run now",
        {201: "the run's id", **_NOT_FOUND},
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        "/api/schedules/{id}/backfill",
        backfill_schedule,
        "start the runs of the ticks in [start, end)",
        {201: "the runs' ids", **_NOT_FOUND, 400: "bad input"},
        body=BackfillBody,
        tags=_TAGS,
    ),
    Endpoint(
        "POST",
        "/api/schedules/{id}/delete",
        delete_schedule,
        "delete a schedule (its runs stay)",
        {200: "deleted", **_NOT_FOUND},
        tags=_TAGS,
    ),
)
