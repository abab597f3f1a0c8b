"""Who a request is from: the token it carries (Bearer, else the sign-in cookie), if still good."""

from __future__ import annotations

from starlette.requests import Request

from server.access.roles import Principal, Scope
from server.access.tokens import COOKIE_NAME, AuthError
from server.context import context

__all__ = ["principal", "request_token"]


def request_token(request: Request) -> str | None:
    """The token a request carries: a Bearer token, else the sign-in cookie."""
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else request.cookies.get(COOKIE_NAME)


async def principal(request: Request, *, scopes: frozenset[Scope] = frozenset({Scope.FULL})) -> Principal | None:
    """The signed-in user, if the request carries a token that is still good (server/access/tokens.py)
    and whose scope this route takes (a token only good for enrolling a second factor is not
    signed in anywhere else). Looked up once per request."""
    cached = request.scope.get("dispatch.principal", False)
    if cached is False:
        token = request_token(request)
        cached = None
        if token:
            try:
                cached = await context(request).tokens.principal(token)
            except AuthError:
                cached = None
        request.scope["dispatch.principal"] = cached
    who: Principal | None = cached
    return who if who is not None and who.scope in scopes else None
