"""Every HTTP endpoint, declared once: who may call it, what it takes, what it answers.

An ``Endpoint`` names its method and path, its query parameters and body as
msgspec Structs, its body cap, and the Struct it answers with for each
status. The roles that may call it are its entry in the permission table
(``server.access.permissions.ROUTES``), found by its method and path. From
these declarations come:

- the Starlette route, which checks the caller before the handler runs (401
  for no sign-in, 403 for another role) and hands the handler the principal;
- the OpenAPI document served at ``/api/openapi.json`` (``openapi``), whose
  schemas are msgspec's schemas of the same Structs the handlers read and
  answer with (``answer`` encodes them), so the document cannot drift.

Every error answers in one shape, ``ErrorBody``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.access.permissions import route_roles
from server.access.principals import principal
from server.access.roles import Principal, Role, Scope

__all__ = ["Endpoint", "ErrorBody", "Handler", "answer", "error", "openapi", "path_type", "routes_of"]

JSON_TYPE = "application/json"
FULL = frozenset({Scope.FULL})


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """What every error answers: a sentence for a person, and for a form, the problem of each field."""

    error: str
    errors: dict[str, str] | None = None


def answer(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """``body`` (a Struct, or builtins) as JSON."""
    return Response(msgspec.json.encode(body), status_code=status, media_type=JSON_TYPE, headers=headers)


def error(status: int, message: str, errors: dict[str, str] | None = None) -> Response:
    return answer(ErrorBody(message, errors), status)


_PATH_TYPES: dict[str | None, dict[str, Any]] = {None: {"type": "string"}, "str": {"type": "string"}}


def path_type(name: str, regex: str, schema: dict[str, Any], kind: type = str) -> None:
    """A kind of path parameter (``{id:rowid}``): what the route matches, and how the document says it."""

    class PathType(Convertor[Any]):
        def convert(self, value: str) -> Any:
            return kind(value)

        def to_string(self, value: Any) -> str:
            return str(value)

    PathType.regex = regex
    register_url_convertor(name, PathType())
    _PATH_TYPES[name] = schema


# A row id: a number that fits in 64 bits (a longer one matches no route, and is a 404).
path_type("rowid", "[0-9]{1,18}", {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}, int)

Handler = Callable[[Request, Principal | None], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str  # Starlette's syntax: /api/investigations/{id:rowid}
    handler: Handler
    summary: str
    tag: str
    answers: Mapping[int, Any]  # status -> the Struct (or type) of the body; None: no JSON body
    query: type | None = None
    body: Any = None  # a type (JSON), or {media type: type} for a body taken in several forms
    max_body: int = 0  # the cap its handler reads the body with (documented; enforced by server.http.inputs)
    scopes: frozenset[Scope] = FULL
    media: str = JSON_TYPE  # what its successful answers are
    also: tuple[str, ...] = ()  # other media types its answers may come in (as text: Open311's XML)
    examples: Mapping[str, Any] = field(default_factory=dict)  # path parameter -> an example value

    def __post_init__(self) -> None:
        route_roles(self.method, self.path)  # a route the permission table does not name fails here

    @property
    def roles(self) -> frozenset[Role] | None:
        """Who may call it, from the permission table; None: anyone (the handler may still look
        at who is signed in)."""
        return route_roles(self.method, self.path)

    @property
    def name(self) -> str:
        words = re.sub(r"[{][^}]*[}]", "one", self.path).strip("/").replace(".", "_")
        return f"{self.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', words.lower()).strip('_')}"

    def route(self) -> Route:
        roles = self.roles

        async def run(request: Request) -> Response:
            who = await principal(request, scopes=self.scopes)
            if roles is not None:
                if who is None:
                    return error(401, "sign in first")
                if who.role not in roles:
                    return error(403, f"{who.role.value} may not {self.summary[0].lower()}{self.summary[1:]}")
            return await self.handler(request, who)

        return Route(self.path, run, methods=[self.method], name=self.name)


def routes_of(endpoints: Iterable[Endpoint]) -> list[Route]:
    """The Starlette routes, one per path, each taking all its methods."""
    by_path: dict[str, list[Endpoint]] = {}
    for e in endpoints:
        by_path.setdefault(e.path, []).append(e)
    out = []
    for path, group in by_path.items():
        if len(group) == 1:
            out.append(group[0].route())
            continue
        handlers = {e.method: e.route() for e in group}

        async def run(request: Request, handlers: dict[str, Route] = handlers) -> Response:
            endpoint = handlers[request.method].endpoint
            return await endpoint(request)  # type: ignore[no-any-return]

        out.append(Route(path, run, methods=list(handlers)))
    return out


# ---- the OpenAPI document ------------------------------------------------

_PATH_PARAM = re.compile(r"{([a-z_]+)(?::([a-z]+))?}")
_ERRORS = {
    400: "the request could not be read (what is wrong is named)",
    401: "not signed in",
    403: "signed in, but this role may not; or a page of another site",
    404: "not found",
    408: "the body stopped arriving",
    409: "in conflict with what is there",
    413: "the body is larger than this request takes",
    415: "the body is not of a type this request takes",
    422: "the body is of the wrong shape (the field is named)",
    429: "too many requests: the message says when to retry",
}


def openapi(endpoints: Sequence[Endpoint], *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``endpoints``."""
    types: list[Any] = [ErrorBody]
    for e in endpoints:
        types += [t for t in e.answers.values() if t is not None]
        types += [t for t in (*_bodies(e).values(), e.query) if t is not None]
    refs, components = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
    schema_of: dict[int, Any] = {id(t): ref for t, ref in zip(types, refs, strict=True)}
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        op: dict[str, Any] = {
            "operationId": e.name,
            "summary": e.summary,
            "tags": [e.tag],
            "parameters": _path_parameters(e) + _query_parameters(e, components),
            "responses": _responses(e, schema_of),
        }
        if e.roles is None:
            op["security"] = [{}, {"bearer": []}, {"cookie": []}]
        else:
            op["security"] = [{"bearer": []}, {"cookie": []}]
            op["x-roles"] = sorted(r.value for r in e.roles)
        if e.body is not None:
            content = {media: {"schema": schema_of[id(kind)]} for media, kind in _bodies(e).items()}
            op["requestBody"] = {"required": True, "content": content}
            if e.max_body:
                op["x-max-body-bytes"] = e.max_body
        paths.setdefault(_PATH_PARAM.sub(r"{\1}", e.path), {})[e.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "The HTTP API of dispatch-hub. Live work (calls, units, alarms, the radio log) goes"
            " over the WebSocket at /ws; its frames are described at /protocol/schema.json.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "a token from POST /api/login"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "dispatch_token"},
            },
        },
    }


def _bodies(e: Endpoint) -> dict[str, Any]:
    if e.body is None:
        return {}
    return dict(e.body) if isinstance(e.body, Mapping) else {JSON_TYPE: e.body}


def _path_parameters(e: Endpoint) -> list[dict[str, Any]]:
    out = []
    for name, kind in _PATH_PARAM.findall(e.path):
        param: dict[str, Any] = {"name": name, "in": "path", "required": True}
        param["schema"] = dict(_PATH_TYPES[kind or None])
        if name in e.examples:
            param["example"] = e.examples[name]
        out.append(param)
    return out


def _query_parameters(e: Endpoint, components: dict[str, Any]) -> list[dict[str, Any]]:
    if e.query is None:
        return []
    schema = components[e.query.__name__]
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _responses(e: Endpoint, schema_of: dict[int, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, kind in e.answers.items():
        entry: dict[str, Any] = {"description": "done" if status < 300 else _ERRORS.get(status, "refused")}
        if kind is not None:
            media = e.media if status < 300 else JSON_TYPE
            entry["content"] = {media: {"schema": schema_of[id(kind)]}}
            entry["content"].update({other: {"schema": {"type": "string"}} for other in e.also})
        out[str(status)] = entry
    error_body = {"content": {JSON_TYPE: {"schema": schema_of[id(ErrorBody)]}}}
    for status in _error_statuses(e):
        out.setdefault(str(status), {"description": _ERRORS[status], **error_body})
    return out


def _error_statuses(e: Endpoint) -> list[int]:
    statuses = [400, 404, 429]
    if e.roles is not None or e.scopes != FULL:
        statuses += [401, 403]
    if e.method != "GET":
        statuses += [403, 409]  # a cookie-borne change from another site's page; a conflict
    if e.body is not None:
        statuses += [408, 413, 415, 422]
    return sorted(set(statuses))
