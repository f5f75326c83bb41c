"""HTTP pieces every service's FastAPI app shares: error format, body limit, health."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class FieldError(BaseModel):
    field: str
    reason: str


class ErrorBody(BaseModel):
    """The one error body of every endpoint (``field_errors``)."""

    error: str
    errors: list[FieldError]


_MEANINGS = {
    400: "A body that is not JSON",
    401: "No valid token",
    403: "The token lacks the permission for this branch",
    404: "Not found (or not visible with this token)",
    409: "Conflicts with the current state (version, status, a reused key)",
    413: "Body too large",
    422: "Invalid input: each field and why",
    503: "A dependency does not answer; try again",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error answers an endpoint or router may give."""
    return {s: {"model": ErrorBody, "description": _MEANINGS[s]} for s in statuses}


def field_errors(status: int, errors: list[tuple[str, str]], message: str) -> JSONResponse:
    """The one error body of every endpoint: what went wrong and, per field, why."""
    return JSONResponse(
        status_code=status,
        content={
            "error": message,
            "errors": [{"field": field, "reason": reason} for field, reason in errors],
        },
    )


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] if parts[0] == "body" else parts
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [(_loc(tuple(e["loc"])), str(e["msg"])) for e in exc.errors()]
        return field_errors(422, errors, "invalid request")

    async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        response = field_errors(exc.status_code, [], str(exc.detail))
        response.headers.update(exc.headers or {})
        return response

    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)


class BodySizeLimit:
    """Refuse request bodies above ``max_bytes`` with 413, counted as they stream in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLargeError
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLargeError:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        response = field_errors(413, [("body", f"at most {self.max_bytes} bytes")], "too large")
        await response({"type": "http"}, _empty_receive, send)


class _TooLargeError(Exception):
    """The body grew past the limit while streaming."""


async def _empty_receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


Check = Callable[[], Awaitable[None]]


def install_health(app: FastAPI, checks: Callable[[], dict[str, Check]]) -> None:
    """``/health/live`` (the process answers) and ``/health/ready`` (every check passes)."""

    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"], response_model=None)
    async def ready() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks().items():
            try:
                await check()
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"failed: {type(exc).__name__}"
        ok = all(v == "ok" for v in results.values())
        return JSONResponse(status_code=200 if ok else 503, content={"checks": results})


def install_metrics(app: FastAPI) -> None:
    """Prometheus metrics of the process at ``/metrics`` (no personal data in any label)."""
    from prometheus_client import make_asgi_app

    app.mount("/metrics", make_asgi_app())
