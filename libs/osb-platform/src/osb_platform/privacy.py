"""A person's data, gathered for a request of access (GDPR Art. 15; issue 19).

Each service answers for its own database at ``POST /internal/v1/privacy/export``, given what
identifies the person (a :class:`Subject`); lead-manager asks the others and answers the
privacy officer (its API, the operator's ``osb privacy export``). The services authenticate
each other with the installation's shared ``OSB_PRIVACY_TOKEN``; without one the endpoint
is not offered. Each part names the service and table it came from and says in German what
it is, for the person who receives the export.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, FastAPI, Header
from osb_contracts._base import ONE_LINE
from pydantic import BaseModel, Field, SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from osb_platform.http import ApiError, error_responses

# one export asks for a handful of a person's values; a bound keeps a query's arrays small
MANY = 1000


class Subject(BaseModel):
    """What identifies the person: their e-mail addresses (lower-case), phone numbers
    (E.164), DMS customer numbers, VINs (upper-case) and the leads already known as theirs."""

    emails: list[Annotated[str, Field(max_length=254), ONE_LINE]] = Field(
        default=[], max_length=MANY
    )
    phones: list[Annotated[str, Field(max_length=20), ONE_LINE]] = Field(
        default=[], max_length=MANY
    )
    customer_numbers: list[Annotated[str, Field(max_length=20), ONE_LINE]] = Field(
        default=[], max_length=MANY
    )
    vins: list[Annotated[str, Field(max_length=17), ONE_LINE]] = Field(default=[], max_length=MANY)
    lead_ids: list[UUID] = Field(default=[], max_length=MANY)

    def params(self) -> dict[str, Any]:
        """The subject as query parameters, normalised as the tables hold the values."""
        return {
            "emails": sorted({e.strip().lower() for e in self.emails}),
            "phones": sorted({p.strip() for p in self.phones}),
            "customer_numbers": sorted({c.strip() for c in self.customer_numbers}),
            "vins": sorted({v.strip().upper() for v in self.vins}),
            "lead_ids": sorted(set(self.lead_ids)),
        }

    def spellings(self) -> list[str]:
        """How the person appears in a record's text, lower-case: each e-mail address, each
        phone number in E.164, as digits and in the German national form, each VIN, customer
        number and lead id. Values under five characters are left out (they would find
        others)."""
        found: set[str] = set()
        for phone in self.phones:
            found |= {phone, phone.removeprefix("+")}
            if phone.startswith("+49"):
                found.add("0" + phone.removeprefix("+49"))
        found |= {*self.emails, *self.vins, *self.customer_numbers}
        found |= {str(i) for i in self.lead_ids}
        return sorted({f.strip().lower() for f in found if len(f.strip()) >= 5})


class Part(BaseModel):
    """The rows of one table about the person."""

    source: str  # "<service>.<table>"
    about: str  # what it is, in German
    records: list[dict[str, Any]]


class ServiceExport(BaseModel):
    service: str
    parts: list[Part]


class ErasedCounts(BaseModel):
    """What a service erased: rows per ``<service>.<table>`` (anonymised or deleted)."""

    service: str
    rows: dict[str, int]


async def rows(conn: AsyncConnection, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """``query``'s rows as JSON objects (``row_to_json`` over the query, aliased ``t``)."""
    result = await conn.execute(text(f"SELECT row_to_json(t) FROM ({query}) t"), params)  # noqa: S608 - the service's own query
    return [dict(r) for r in result.scalars()]


Export = Callable[[Subject], Awaitable[list[Part]]]
Erase = Callable[[Subject], Awaitable[dict[str, int]]]


def install_privacy(
    app: FastAPI,
    service: str,
    token: SecretStr | None,
    export: Callable[[], Export],
    erase: Callable[[], Erase],
) -> None:
    """``POST /internal/v1/privacy/export`` and ``/erase`` for lead-manager (``export`` and
    ``erase`` are looked up per request: they exist once the service has started)."""
    router = APIRouter(prefix="/internal/v1/privacy", tags=["privacy"])

    @router.post(
        "/export",
        response_model=ServiceExport,
        responses=error_responses(401, 404, 422),
        summary="What this service holds about a person (for lead-manager's export)",
    )
    async def export_subject(
        subject: Subject, authorization: Annotated[str | None, Header()] = None
    ) -> ServiceExport:
        check_service_token(token, authorization)
        return ServiceExport(service=service, parts=await export()(subject))

    @router.post(
        "/erase",
        response_model=ErasedCounts,
        responses=error_responses(401, 404, 422),
        summary="Erase what this service holds about a person (for lead-manager's erasure)",
    )
    async def erase_subject(
        subject: Subject, authorization: Annotated[str | None, Header()] = None
    ) -> ErasedCounts:
        check_service_token(token, authorization)
        return ErasedCounts(service=service, rows=await erase()(subject))

    app.include_router(router)


def check_service_token(token: SecretStr | None, authorization: str | None) -> None:
    if token is None:
        raise ApiError(404, "privacy requests are not configured", code="NOT_FOUND")
    given = (authorization or "").removeprefix("Bearer ")
    if not secrets.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise ApiError(401, "service token missing or wrong", code="UNAUTHORIZED")
