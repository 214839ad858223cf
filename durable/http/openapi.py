"""``GET /openapi.json``: the OpenAPI 3.1 document, generated from the route table.

Each route is declared once, as an `Endpoint` (method, path, handler, query
parameters, body Struct, responses); the app's routes and this document are both made
from that table, so neither can list a path the other lacks.  Body schemas come from
the msgspec Structs that decode them (`msgspec.json.schema_components`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["Endpoint", "Param", "document"]

Handler = Callable[[Request], Awaitable[Response]]

_PROBLEM = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
}


@dataclass(frozen=True)
class Param:
    """A query parameter."""

    name: str
    schema: dict[str, Any]
    description: str
    required: bool = False


@dataclass(frozen=True)
class Endpoint:
    """One route: what the app serves and what the document says of it."""

    method: str
    path: str
    handler: Handler
    summary: str
    responses: dict[int, str]
    query: tuple[Param, ...] = ()
    body: type | None = None
    any_body: str | None = None  # a body of any JSON value: what it is
    headers: tuple[Param, ...] = ()
    content: str = "application/json"
    public: bool = False  # not behind the bearer token (a webhook signs its calls)
    tags: tuple[str, ...] = field(default=("runs",))


def _operation(endpoint: Endpoint, refs: dict[type, Any]) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", endpoint.path)
    ]
    for where, group in (("query", endpoint.query), ("header", endpoint.headers)):
        params += [
            {
                "name": p.name,
                "in": where,
                "required": p.required,
                "schema": p.schema,
                "description": p.description,
            }
            for p in group
        ]
    responses: dict[str, Any] = {}
    for status, text in sorted(endpoint.responses.items()):
        schema: dict[str, Any] = _PROBLEM if status >= 400 else {}
        media = endpoint.content if status < 400 else "application/json"
        responses[str(status)] = {"description": text, "content": {media: {"schema": schema}}}
    op: dict[str, Any] = {
        "summary": endpoint.summary,
        "operationId": endpoint.handler.__name__,
        "tags": list(endpoint.tags),
        "parameters": params,
        "responses": responses,
    }
    if endpoint.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[endpoint.body]}},
        }
    elif endpoint.any_body is not None:
        op["requestBody"] = {
            "required": False,
            "description": endpoint.any_body,
            "content": {"application/json": {"schema": {}}},
        }
    if endpoint.public:
        op["security"] = []
    return op


def document(endpoints: Sequence[Endpoint], *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI document of `endpoints`."""
    bodies = list(dict.fromkeys(e.body for e in endpoints if e.body is not None))
    schemas, components = msgspec.json.schema_components(
        bodies, ref_template="#/components/schemas/{name}"
    )
    refs = dict(zip(bodies, schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": {**components, "Error": _PROBLEM},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
