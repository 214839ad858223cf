"""Errors of the HTTP API: every one is JSON ``{"error": code, "detail": text}``.

`ApiError` is raised by the handlers for bad input; `durable` errors are mapped to a
status here, in one place; anything else is a 500 whose body says only where to look
(the server's log has the traceback, the client never sees one).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from durable import errors

__all__ = ["ApiError", "error_response", "handle"]

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """A request the API refuses: `status`, a short `error` code, a `detail` sentence."""

    def __init__(self, status: int, error: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.extra = extra


def error_response(
    status: int,
    error: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """The JSON body of an error."""
    return JSONResponse({"error": error, "detail": detail, **extra}, status, headers=headers)


def _mapped(exc: Exception) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, errors.WorkflowNotFound):
        return ApiError(404, "run_not_found", str(exc), id=exc.workflow_id)
    if isinstance(exc, errors.ScheduleNotFound):
        return ApiError(404, "schedule_not_found", str(exc), id=exc.schedule_id)
    if isinstance(exc, errors.RunFinished):
        return ApiError(409, "run_finished", str(exc), id=exc.workflow_id, run_status=exc.status)
    if isinstance(exc, errors.NotRegistered):
        return ApiError(404, "unknown_workflow", str(exc))
    if isinstance(exc, errors.SerializationError):
        return ApiError(400, "bad_value", str(exc))
    if isinstance(exc, errors.InvalidStart):
        return ApiError(400, "invalid_start", str(exc))
    if isinstance(exc, errors.JournalError):
        return ApiError(503, "journal_unavailable", str(exc))
    if isinstance(exc, errors.DurableError):
        return ApiError(409, type(exc).__name__, str(exc))
    raise exc


async def handle(request: Request, exc: Exception) -> Response:
    """Starlette's exception handler for `ApiError`, `durable` errors and the rest."""
    try:
        problem = _mapped(exc)
    except Exception:
        logger.exception(
            "HTTP API: %s %s failed",
            request.method,
            request.url.path,
            extra={"action": "http_error", "workflow_id": request.path_params.get("id")},
        )
        return error_response(
            500, "internal", "the server failed on this request; its log says why"
        )
    return error_response(problem.status, problem.error, problem.detail, **problem.extra)
