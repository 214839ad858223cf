"""The endpoints of the HTTP API, and the table (`ENDPOINTS`) that declares them.

`durable.http.app` makes the Starlette routes from the table and `/openapi.json` from
the same table.  Adding an endpoint is one handler here and one `Endpoint` row (the
request/reply endpoint, ``POST /api/runs/{id}/requests/{name}``, comes that way).
"""

from __future__ import annotations

import math
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from durable import cli_output, codec, errors, requests
from durable.engine import Engine
from durable.http import chunks, paths, payloads, schedule_routes, streaming
from durable.http.openapi import Endpoint, Param
from durable.http.problems import ApiError
from durable.http.webhooks import Webhook
from durable.journal import base
from durable.runs import read_run
from durable.runtime import registry

__all__ = ["ENDPOINTS", "Api"]


@dataclass
class Api:
    """What the handlers share: the engine and the server's limits."""

    engine: Engine
    hooks: dict[str, Webhook] = field(default_factory=dict)
    max_body: int = 1 << 20
    max_wait: float = 300.0
    watchers: streaming.Watchers = field(default_factory=streaming.Watchers)
    openapi: dict[str, Any] = field(default_factory=dict)
    openapi_body: bytes = b""


def _api(request: Request) -> Api:
    api: Api = request.app.state.durable
    return api


def _wait(request: Request, api: Api) -> float:
    text = request.query_params.get("wait", "0")
    try:
        wait = float(text)
    except ValueError:
        wait = math.nan
    if not 0 <= wait <= api.max_wait:  # also NaN
        raise ApiError(400, "bad_wait", f"wait={text!r}: give seconds from 0 to {api.max_wait:g}")
    return wait


async def _record(api: Api, run_id: str) -> base.RunRecord:
    return await read_run(api.engine.journal, run_id)


def _gone() -> Response:
    return Response(status_code=499)  # nobody reads it: the client disconnected


# -- starting ------------------------------------------------------------------------------


async def start_run(request: Request) -> Response:
    api = _api(request)
    name = paths.segment(request, "name")
    body = await payloads.read_json(request, payloads.StartBody, api.max_body, empty_ok=True)
    queue = body.queue
    if registry.lookup_workflow(name) is None:
        recorded = await api.engine.journal.workflow_catalog(name)
        if not recorded:
            names = {n for n, _ in await _known(api)}
            known = ", ".join(sorted(names)[:20]) or "none"
            raise ApiError(
                404,
                "unknown_workflow",
                f"no workflow {name!r} is registered in this server, and no worker of this "
                f"journal has recorded it (known: {known}); start a worker or the server with "
                "-m MODULE for the module that defines it",
            )
        queue = queue or recorded[0].queue  # read here once: submit need not read it again
    key = request.headers.get("idempotency-key")
    if key is not None and not 0 < len(key) <= 255:
        raise ApiError(400, "bad_idempotency_key", "Idempotency-Key: give 1 to 255 characters")
    run, record, created = await api.engine.submit(
        name,
        body.args,
        body.kwargs,
        workflow_id=key,
        queue=queue,
        metadata=body.metadata,
        priority=body.priority,
        start_at=body.start_at,
        delay=body.delay,
        partition_key=body.partition_key,
        dedup_key=body.dedup_key,
    )
    path = urllib.parse.quote(run.id, safe="")
    location = {"Location": f"{request.scope.get('root_path', '')}/api/runs/{path}"}
    if created:
        return JSONResponse(payloads.run_json(record), 201, headers=location)
    if key is None:  # no Idempotency-Key: an unfinished run holds the dedup_key, whatever
        return JSONResponse(payloads.run_json(record), 200, headers=location)  # its input
    asked = codec.fingerprint(tuple(body.args), body.kwargs)
    stored = payloads.input_fingerprint(record.input)
    if stored.startswith("sha256:"):  # an input kept in the blob store: compare encodings
        asked = payloads.request_digest(api.engine.codec, body.args, body.kwargs)
    if record.name != name or stored != asked:
        raise ApiError(
            409,
            "idempotency_conflict",
            f"run {run.id!r} exists as {record.name!r} with input fingerprint {stored}; "
            f"this request asks {name!r} with input fingerprint {asked}: the same "
            "Idempotency-Key must come with the same workflow and input (use a new key "
            "for a new run)",
            id=run.id,
            existing={"workflow": record.name, "fingerprint": stored},
            requested={"workflow": name, "fingerprint": asked},
        )
    return JSONResponse(payloads.run_json(record), 200, headers=location)


# -- inspecting ------------------------------------------------------------------------------


async def _known(api: Api) -> list[tuple[str, dict[str, Any]]]:
    """Every workflow this server imported or a worker recorded, with what is known."""
    here = dict(registry.catalog())
    found: dict[str, dict[str, Any]] = {}
    for record in await api.engine.journal.workflow_catalog():
        found[record.name] = {
            "queue": record.queue,
            "seen_at": cli_output.when(record.seen_at),
            "seen_by": record.seen_by,
        }
    for name, queue in here.items():
        found.setdefault(name, {"queue": queue, "seen_at": None, "seen_by": None})
    return [(name, {**found[name], "imported_here": name in here}) for name in sorted(found)]


async def list_workflows(request: Request) -> Response:
    known = await _known(_api(request))
    return JSONResponse({"workflows": [{"name": name, **said} for name, said in known]})


async def list_runs(request: Request) -> Response:
    api = _api(request)
    query = request.query_params
    statuses = [s.strip().upper() for v in query.getlist("status") for s in v.split(",")]
    statuses = [s for s in statuses if s]
    if not set(statuses) <= {s.value for s in base.Status}:
        raise ApiError(
            400, "bad_status", f"status={statuses}: use {', '.join(s.value for s in base.Status)}"
        )
    text = query.get("limit", "100")
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise ApiError(400, "bad_limit", f"limit={text!r}: give a number from 1 to 1000")
    limit = int(text)
    cursor = query.get("cursor")
    before = payloads.decode_cursor(cursor) if cursor else None
    found = await api.engine.journal.list_runs(
        status=[base.Status(s) for s in statuses] or None,
        name=query.get("name") or None,
        limit=limit + 1,
        before=before,
    )
    page = found[:limit]
    next_cursor = payloads.encode_cursor(page[-1]) if len(found) > limit else None
    return JSONResponse({"runs": [payloads.run_json(r) for r in page], "next_cursor": next_cursor})


async def get_run(request: Request) -> Response:
    record = await _record(_api(request), paths.segment(request, "id"))
    return JSONResponse(payloads.run_json(record))


async def get_result(request: Request) -> Response:
    api = _api(request)
    run_id = paths.segment(request, "id")
    wait = _wait(request, api)
    try:
        work = streaming.wait_finished(api.engine, run_id, wait)
        record = await streaming.until_disconnect(request, api.watchers, work)
    except streaming.ClientGone:
        return _gone()
    summary = {"id": record.id, "status": str(record.status)}
    if record.status is base.Status.SUCCEEDED:
        return JSONResponse({**summary, "result": payloads.value_json(record.output)})
    if record.status is base.Status.FAILED:
        failure = payloads.error_json(record.error) or {"type": "unknown", "message": ""}
        detail = f"run {run_id!r} failed: {failure['type']}: {failure['message']}"
        return JSONResponse(
            {"error": "run_failed", "detail": detail, **summary, "failure": failure}, 422
        )
    if record.status is base.Status.CANCELLED:
        detail = f"run {run_id!r} was cancelled; POST /api/runs/{run_id}/resume carries it on"
        return JSONResponse({"error": "run_cancelled", "detail": detail, **summary}, 422)
    return JSONResponse(summary, 202)


async def get_history(request: Request) -> Response:
    api = _api(request)
    run_id = paths.segment(request, "id")
    load = await api.engine.journal.load(run_id)
    if load is None:
        raise errors.WorkflowNotFound(workflow_id=run_id)
    entries = [payloads.entry_json(entry) for entry in load.entries]
    return JSONResponse({"id": run_id, "entries": entries})


async def get_lineage(request: Request) -> Response:
    node = await _api(request).engine.lineage(paths.segment(request, "id"))
    return JSONResponse(payloads.lineage_json(node))


async def get_event(request: Request) -> Response:
    api = _api(request)
    run_id, key = paths.segment(request, "id"), paths.segment(request, "key")
    wait = _wait(request, api)
    try:
        work = streaming.wait_event(api.engine, run_id, key, wait)
        data = await streaming.until_disconnect(request, api.watchers, work)
    except streaming.ClientGone:
        return _gone()
    if data is None:
        return JSONResponse({"id": run_id, "key": key, "set": False}, 202)
    return JSONResponse({"id": run_id, "key": key, "set": True, "value": payloads.value_json(data)})


async def stream(request: Request) -> Response:
    api = _api(request)
    run_id = paths.segment(request, "id")
    await _record(api, run_id)  # 404 before the stream starts
    last = request.headers.get("last-event-id", "")
    after = int(last) if last.lstrip("-").isdigit() else -1
    return streaming.EventStream(
        lambda: streaming.run_events(api.engine, run_id, after), api.watchers
    )


async def read_stream(request: Request) -> Response:
    api = _api(request)
    run_id, key = paths.segment(request, "id"), paths.segment(request, "key")
    text = request.query_params.get("offset", "0")
    if not text.isdigit():
        raise ApiError(400, "bad_offset", f"offset={text!r}: give a chunk offset, 0 or more")
    offset = int(text)
    last = request.headers.get("last-event-id", "")
    if last.isdigit():  # a reconnection: carry on after the last chunk received
        offset = int(last) + 1
    await _record(api, run_id)  # 404 before the stream starts
    return streaming.EventStream(
        lambda: chunks.chunk_events(api.engine, run_id, key, offset), api.watchers
    )


# -- operations ------------------------------------------------------------------------------


async def send_message(request: Request) -> Response:
    api = _api(request)
    run_id = paths.segment(request, "id")
    body = await payloads.read_json(request, payloads.MessageBody, api.max_body)
    await api.engine.send(run_id, body.topic, body.value)  # RunFinished: a 409
    return JSONResponse({"id": run_id, "topic": body.topic, "sent": True}, 202)


async def send_request(request: Request) -> Response:
    api = _api(request)
    run_id, name = paths.segment(request, "id"), paths.segment(request, "name")
    wait = _wait(request, api)
    key = request.headers.get("idempotency-key")
    if key is not None and not 0 < len(key) <= 255:
        raise ApiError(400, "bad_idempotency_key", "Idempotency-Key: give 1 to 255 characters")
    body = await payloads.read_body(request, api.max_body)
    try:
        value = msgspec.json.decode(body) if body.strip() else None
    except msgspec.DecodeError as exc:
        raise ApiError(400, "bad_json", f"the body is not JSON: {exc}") from None
    try:
        work = requests.outcome(api.engine, run_id, name, value, timeout=wait, request_id=key)
        done = await streaming.until_disconnect(request, api.watchers, work)
    except streaming.ClientGone:
        return _gone()  # and the request withdrawn, if the run had not taken it
    summary = {"id": run_id, "name": name, "request_id": done.key}
    if done.state == "replied":
        return JSONResponse(
            {**summary, "state": done.state, "reply": payloads.value_json(done.answer)}
        )
    if done.state == "rejected":
        reason = payloads.value_json(done.answer)
        detail = f"run {run_id!r} rejected request {name!r}: {reason}"
        return JSONResponse(
            {"error": "rejected", "detail": detail, **summary, "reason": reason}, 409
        )
    # no answer in time: the request stays queued; the same Idempotency-Key waits again
    return JSONResponse({**summary, "state": done.state}, 202)


async def cancel(request: Request) -> Response:
    api = _api(request)
    run_id = paths.segment(request, "id")
    await api.engine.cancel(run_id)
    return JSONResponse(payloads.run_json(await _record(api, run_id)))


async def resume(request: Request) -> Response:
    api = _api(request)
    run_id = paths.segment(request, "id")
    try:
        await api.engine.resume(run_id)
    except errors.NotRegistered:
        pass  # reopened in the journal: a worker that imports the workflow carries it on
    return JSONResponse(payloads.run_json(await _record(api, run_id)))


async def restart(request: Request) -> Response:
    api = _api(request)
    await _record(api, paths.segment(request, "id"))
    run = await api.engine.restart(paths.segment(request, "id"))
    return JSONResponse(payloads.run_json(await _record(api, run.id)), 201)


async def fork(request: Request) -> Response:
    api = _api(request)
    run_id = paths.segment(request, "id")
    body = await payloads.read_json(request, payloads.ForkBody, api.max_body)
    if body.from_step < 0:
        raise ApiError(400, "invalid_body", "from_step: give a sequence number from 0")
    await _record(api, run_id)
    run = await api.engine.fork(run_id, from_step=body.from_step)
    return JSONResponse(payloads.run_json(await _record(api, run.id)), 201)


# -- webhooks and the document -------------------------------------------------------------------


async def hook(request: Request) -> Response:
    api = _api(request)
    name = paths.segment(request, "name")
    found = api.hooks.get(name)
    if found is None:
        raise ApiError(404, "unknown_hook", f"no webhook {name!r} is registered in this server")
    body = await payloads.read_body(request, api.max_body)
    signature = request.headers.get(found.header)
    if not found.verify(body, signature):
        detail = "unsigned" if signature is None else "badly signed"
        raise ApiError(
            401, "bad_signature", f"the delivery is {detail}: {found.header} must sign the body"
        )
    try:
        payload = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise ApiError(400, "bad_json", f"the body is not JSON: {exc}") from None
    headers = {k.lower(): v for k, v in request.headers.items()}
    run_id = found.run_id(headers, body, payload)
    _, record, created = await api.engine.submit(
        found.workflow,
        [payload],
        {},
        workflow_id=run_id,
        queue=found.queue,
        metadata={**found.metadata, "webhook": found.name},
    )
    return JSONResponse({**payloads.run_json(record), "created": created}, 201 if created else 200)


async def openapi_json(request: Request) -> Response:
    api = _api(request)
    if not api.openapi_body:
        api.openapi_body = bytes(JSONResponse(api.openapi).body)  # rendered once
    return Response(api.openapi_body, media_type="application/json")


_WAIT = Param(
    "wait", {"type": "number", "minimum": 0}, "seconds to wait for it (long-poll; default 0)"
)
_NOT_FOUND = {404: "no run with this id"}
_BAD = {400: "bad input"}

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        "/api/workflows/{name}/runs",
        start_run,
        "start a run",
        {
            201: "started",
            200: "the run this Idempotency-Key started (same input), or the unfinished run "
            "holding the dedup_key",
            409: "the Idempotency-Key's run has another input",
            404: "unknown workflow",
            **_BAD,
        },
        body=payloads.StartBody,
        headers=(Param("Idempotency-Key", {"type": "string"}, "the workflow id"),),
    ),
    Endpoint(
        "GET",
        "/api/workflows",
        list_workflows,
        "the workflows that can be started here: imported by this server or recorded by "
        "a worker of its journal, each with its queue",
        {200: "the workflows by name"},
    ),
    Endpoint(
        "GET",
        "/api/runs",
        list_runs,
        "runs, newest first (paginated)",
        {200: "a page of runs and the next page's cursor (null: last page)", **_BAD},
        query=(
            Param("status", {"type": "string"}, "statuses, comma-separated"),
            Param("name", {"type": "string"}, "workflow name"),
            Param("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "page size"),
            Param("cursor", {"type": "string"}, "next_cursor of the previous page"),
        ),
    ),
    Endpoint("GET", "/api/runs/{id}", get_run, "a run", {200: "the run", **_NOT_FOUND}),
    Endpoint(
        "GET",
        "/api/runs/{id}/result",
        get_result,
        "the result of a run",
        {
            200: "succeeded: its result",
            202: "not finished yet",
            422: "failed or cancelled: the error",
            **_NOT_FOUND,
            **_BAD,
        },
        query=(_WAIT,),
    ),
    Endpoint(
        "GET",
        "/api/runs/{id}/history",
        get_history,
        "the journal entries of a run",
        {200: "the entries, in sequence order", **_NOT_FOUND},
    ),
    Endpoint(
        "GET",
        "/api/runs/{id}/lineage",
        get_lineage,
        "the tree of runs of a run's root",
        {200: "the tree", **_NOT_FOUND},
    ),
    Endpoint(
        "POST",
        "/api/runs/{id}/messages",
        send_message,
        "send a message to a run",
        {202: "sent", 409: "the run has finished", **_NOT_FOUND, **_BAD},
        body=payloads.MessageBody,
    ),
    Endpoint(
        "POST",
        "/api/runs/{id}/requests/{name}",
        send_request,
        "send a request to a run and wait for its reply",
        {
            200: "replied: its reply",
            202: "no answer within wait: the request stays queued (the same "
            "Idempotency-Key waits for it again)",
            409: "rejected (error 'rejected', the run's reason) or the run has finished "
            "(error 'run_finished')",
            **_NOT_FOUND,
            **_BAD,
        },
        query=(_WAIT,),
        any_body="the request's value, any JSON (empty: null)",
        headers=(Param("Idempotency-Key", {"type": "string"}, "the request id"),),
    ),
    Endpoint(
        "GET",
        "/api/runs/{id}/events/{key}",
        get_event,
        "an event a run published",
        {200: "its value", 202: "not set yet", **_NOT_FOUND, **_BAD},
        query=(_WAIT,),
    ),
    Endpoint(
        "POST",
        "/api/runs/{id}/cancel",
        cancel,
        "cancel a run and its descendants",
        {200: "the run", **_NOT_FOUND},
    ),
    Endpoint(
        "POST",
        "/api/runs/{id}/resume",
        resume,
        "carry a failed or cancelled run on",
        {200: "the run", **_NOT_FOUND},
    ),
    Endpoint(
        "POST",
        "/api/runs/{id}/restart",
        restart,
        "run it again as a new run",
        {201: "the new run", **_NOT_FOUND},
    ),
    Endpoint(
        "POST",
        "/api/runs/{id}/fork",
        fork,
        "a new run reusing the calls before from_step",
        {201: "the new run", **_NOT_FOUND, **_BAD},
        body=payloads.ForkBody,
    ),
    Endpoint(
        "GET",
        "/api/runs/{id}/stream",
        stream,
        "server-sent events of a run",
        {200: "events: status, entry, end", **_NOT_FOUND},
        content="text/event-stream",
    ),
    Endpoint(
        "GET",
        "/api/runs/{id}/streams/{key}",
        read_stream,
        "a durable stream of a run (durable.write_stream) as server-sent events",
        {200: "events: chunk (id = its offset), end", **_NOT_FOUND, **_BAD},
        query=(Param("offset", {"type": "integer", "minimum": 0}, "the first chunk's offset"),),
        headers=(
            Param(
                "Last-Event-ID",
                {"type": "string"},
                "the offset of the last chunk received: the stream resumes after it",
            ),
        ),
        content="text/event-stream",
    ),
    Endpoint(
        "POST",
        "/api/hooks/{name}",
        hook,
        "a signed webhook delivery starts its workflow",
        {
            201: "started",
            200: "a redelivery: the run it started",
            401: "unsigned or badly signed",
            404: "unknown hook",
            **_BAD,
        },
        public=True,
        tags=("webhooks",),
    ),
    Endpoint(
        "GET",
        "/openapi.json",
        openapi_json,
        "this document",
        {200: "OpenAPI 3.1"},
        tags=("meta",),
    ),
)

# the schedules' endpoints, before the document's own
ENDPOINTS = ENDPOINTS[:-1] + schedule_routes.ENDPOINTS + ENDPOINTS[-1:]
