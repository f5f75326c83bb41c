"""The service layer's errors as HTTP answers (the platform's format: detail and fields)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from osb_platform.http import RETRY_AFTER_S, field_errors
from osb_platform.matching import MatchingRefusedError, MatchingUnavailableError

from lead_manager.domain.model import (
    AccessDeniedError,
    PermissionMissingError,
    RuleViolationError,
    TransitionRefusedError,
)
from lead_manager.service.commands import LeadNotFoundError, RequestReusedError
from lead_manager.service.ports import ConcurrencyError


def install_domain_errors(app: FastAPI) -> None:
    """Each error with its stable code (and params) for the page to phrase in German."""

    async def not_found(_: Request, exc: Exception) -> JSONResponse:
        return field_errors(404, [], f"no lead {exc}", code="LEAD_NOT_FOUND")

    async def conflict(_: Request, exc: Exception) -> JSONResponse:
        return field_errors(
            409, [("version", str(exc))], "changed by someone else", code="CHANGED_MEANWHILE"
        )

    async def reused(_: Request, exc: Exception) -> JSONResponse:
        return field_errors(409, [("request_id", str(exc))], str(exc), code="REQUEST_REUSED")

    async def refused(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, TransitionRefusedError)
        if isinstance(exc, AccessDeniedError):
            field, status = "permission", 403
        else:
            field, status = "status", 403 if isinstance(exc, PermissionMissingError) else 409
        return field_errors(
            status, [(field, exc.reason)], exc.reason, code=exc.code, params=exc.params
        )

    async def rule(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RuleViolationError)
        return field_errors(
            422, [(exc.field, exc.reason)], exc.reason, code=exc.code, params=exc.params
        )

    async def unavailable(_: Request, exc: Exception) -> JSONResponse:
        response = field_errors(
            503, [("customer-matching", str(exc))], str(exc), code="MATCHING_UNAVAILABLE"
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_S)  # as for any dependency down
        return response

    async def refused_by_matching(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MatchingRefusedError)
        return field_errors(
            422,
            [("customer", exc.reason)],
            str(exc),
            code="MATCHING_REFUSED",
            params={"reason": exc.code},
        )

    app.add_exception_handler(LeadNotFoundError, not_found)
    app.add_exception_handler(ConcurrencyError, conflict)
    app.add_exception_handler(RequestReusedError, reused)
    app.add_exception_handler(TransitionRefusedError, refused)
    app.add_exception_handler(RuleViolationError, rule)
    app.add_exception_handler(MatchingUnavailableError, unavailable)
    app.add_exception_handler(MatchingRefusedError, refused_by_matching)
