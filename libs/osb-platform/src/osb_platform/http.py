"""HTTP pieces every service's FastAPI app shares: error format, body limit, health."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from osb_platform.poison import is_transient, root_cause

log = logging.getLogger(__name__)

UNAVAILABLE = Counter(
    "osb_http_unavailable_total",
    "Requests answered 503 because a dependency (database, broker) did not answer",
)
RETRY_AFTER_S = 5
READY_DEADLINE_S = 1.0  # /health/ready answers within this, whatever its checks do


class FieldError(BaseModel):
    field: str
    reason: str


class ErrorBody(BaseModel):
    """The one error body of every endpoint (``field_errors``)."""

    error: str = Field(description="What went wrong, in English")
    code: str = Field(description="Stable: a client phrases the error from it and `params`")
    params: dict[str, str] = Field(description="The code's values (a status, a permission, ...)")
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


# the code of an error nobody gave one, by HTTP status
_STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "INVALID_REQUEST",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class ApiError(StarletteHTTPException):
    """An HTTP error with a stable ``code`` (and ``params``) that a client phrases itself."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, detail=message, headers=dict(headers or {}))
        self.code = code
        self.params = dict(params or {})


def field_errors(
    status: int,
    errors: list[tuple[str, str]],
    message: str,
    *,
    code: str | None = None,
    params: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The one error body of every endpoint: what went wrong (English, for people reading
    the API), a stable ``code`` with its ``params`` (for a client such as the advisor's page
    to phrase in its own language) and, per field, why."""
    return JSONResponse(
        status_code=status,
        content={
            "error": message,
            "code": code or _STATUS_CODES.get(status, "ERROR"),
            "params": dict(params or {}),
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
        response = field_errors(
            exc.status_code,
            [],
            str(exc.detail),
            code=getattr(exc, "code", None),
            params=getattr(exc, "params", None),
        )
        response.headers.update(exc.headers or {})
        return response

    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    outage = _Outage()
    for kind in _DEPENDENCY_FAULTS:
        app.add_exception_handler(kind, outage.answer)
    app.add_middleware(_OutageWatch, outage=outage)


# Where a dependency's fault surfaces: refused or lost connections, timeouts, the driver's
# and SQLAlchemy's connection errors, the Kafka client's. Which of them mean "down" is
# ``is_transient``'s to say; the others are answered as any unexpected error.
_DEPENDENCY_FAULTS: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    sa_exc.SQLAlchemyError,
    KafkaError,
)


class _Outage:
    """A dependency that is down is a 503 with ``Retry-After``: one log line when the
    answers start, one when a request is answered again, a metric for each refused one."""

    def __init__(self) -> None:
        self.down = False

    async def answer(self, request: Request, exc: Exception) -> JSONResponse:
        if not is_transient(exc):
            log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
            return field_errors(500, [], "internal error")
        UNAVAILABLE.inc()
        if not self.down:
            self.down = True
            cause = type(root_cause(exc)).__name__
            log.warning("a dependency does not answer (%s): answering 503 until it does", cause)
        response = field_errors(503, [], "a service this one needs does not answer; try again")
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    def answered(self) -> None:
        if self.down:
            self.down = False
            log.warning("the dependencies answer again")


class _OutageWatch:
    """Tells ``_Outage`` when a request is answered without a server error again."""

    def __init__(self, app: ASGIApp, outage: _Outage) -> None:
        self.app, self.outage = app, outage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.outage.down:
            await self.app(scope, receive, send)
            return

        async def watched(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 500:
                self.outage.answered()
            await send(message)

        await self.app(scope, receive, watched)


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
        """Every check at once, each given ``READY_DEADLINE_S``: a dependency that hangs (a
        frozen broker) is a 503 in time, not a probe that times out."""
        tasks = {name: asyncio.ensure_future(check()) for name, check in checks().items()}
        if tasks:
            await asyncio.wait(tasks.values(), timeout=READY_DEADLINE_S)
        results: dict[str, str] = {}
        for name, task in tasks.items():
            if not task.done():
                task.cancel()  # not waited for: the answer must not wait either
                task.add_done_callback(_consumed)
                results[name] = f"failed: no answer within {READY_DEADLINE_S:g} s"
            elif task.exception() is not None:
                results[name] = f"failed: {type(task.exception()).__name__}"
            else:
                results[name] = "ok"
        ok = all(v == "ok" for v in results.values())
        return JSONResponse(status_code=200 if ok else 503, content={"checks": results})


def _consumed(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: no "exception was never retrieved" at exit


def install_tracing(app: FastAPI) -> None:
    """A server span per request, the child of the caller's ``traceparent`` when it sends
    one (osb_platform.tracing; health, metrics and documents left out)."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="/health,/metrics,/asyncapi,/static")


def install_metrics(app: FastAPI) -> None:
    """Prometheus metrics of the process at ``/metrics`` (no personal data in any label)."""
    from prometheus_client import make_asgi_app

    app.mount("/metrics", make_asgi_app())
