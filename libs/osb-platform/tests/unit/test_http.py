"""The HTTP pieces every service shares: a dependency that is down, and readiness in time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from osb_platform import http
from sqlalchemy import exc as sa_exc


def app_with(routes: dict[str, BaseException | None]) -> FastAPI:
    app = FastAPI()
    http.install_error_handlers(app)
    for path, raised in routes.items():
        app.get(path)(_raising(raised))
    return app


def _raising(raised: BaseException | None) -> Callable[[], Awaitable[dict[str, str]]]:
    async def route() -> dict[str, str]:
        if raised is not None:
            raise raised
        return {"status": "ok"}

    return route


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://svc")


async def test_a_dependency_down_is_a_503_with_retry_after_and_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refused = sa_exc.OperationalError("SELECT", {}, ConnectionRefusedError(111, "refused"))
    app = app_with(
        {
            "/refused": ConnectionRefusedError(111, "Connect call failed"),
            "/wrapped": refused,
            "/starting": asyncpg.CannotConnectNowError("the database system is starting up"),
            "/fine": None,
        }
    )
    caplog.set_level(logging.INFO, logger="osb_platform.http")
    async with client(app) as c:
        for path in ("/refused", "/wrapped", "/starting") * 4:
            answer = await c.get(path)
            assert answer.status_code == 503, path
            assert answer.headers["Retry-After"] == "5"
            assert "try again" in answer.json()["error"]
        assert (await c.get("/fine")).status_code == 200
        assert (await c.get("/refused")).status_code == 503  # down again: said once more
    lines = [(r.levelno, r.getMessage(), r.exc_info) for r in caplog.records]
    assert [m for _, m, _ in lines] == [
        "a dependency does not answer (ConnectionRefusedError): answering 503 until it does",
        "the dependencies answer again",
        "a dependency does not answer (ConnectionRefusedError): answering 503 until it does",
    ]
    assert all(info is None for _, _, info in lines)  # no traceback per request


async def test_a_database_error_of_the_request_s_own_stays_a_500_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broken = sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key"))
    async with client(app_with({"/broken": broken})) as c:
        answer = await c.get("/broken")
    assert answer.status_code == 500
    assert answer.json() == {
        "error": "internal error",
        "code": "INTERNAL",
        "params": {},
        "errors": [],
    }
    (record,) = [r for r in caplog.records if r.name == "osb_platform.http"]
    assert record.exc_info is not None


async def test_readiness_answers_in_time_whatever_a_check_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http, "READY_DEADLINE_S", 0.1)
    never = asyncio.Event()

    async def fine() -> None:
        return None

    async def frozen() -> None:  # a broker stopped with SIGSTOP: no answer, no error
        await never.wait()

    async def refused() -> None:
        raise ConnectionRefusedError(111, "refused")

    app = FastAPI()
    http.install_health(app, lambda: {"database": fine, "kafka": frozen, "smtp": refused})
    async with client(app) as c:
        answer = await c.get("/health/ready")
    assert answer.status_code == 503
    assert answer.json() == {
        "checks": {
            "database": "ok",
            "kafka": "failed: no answer within 0.1 s",
            "smtp": "failed: ConnectionRefusedError",
        }
    }
