"""Bearer tokens (JWT, HS256) carrying the user's permissions per branch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated

import jwt
from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from osb_platform.http import ApiError

from lead_manager.domain.permissions import Actor, Permission

ISSUER = "osb-lead-manager"
_bearer = HTTPBearer(auto_error=False)


def issue_token(
    secret: str,
    *,
    user: str,
    name: str,
    branches: Mapping[str, Sequence[Permission]],
    ttl: timedelta = timedelta(hours=12),
    now: datetime | None = None,
) -> str:
    issued = now or datetime.now(UTC)
    claims = {
        "iss": ISSUER,
        "sub": user,
        "name": name,
        "branches": {b: sorted(p.value for p in perms) for b, perms in branches.items()},
        "iat": issued,
        "exp": issued + ttl,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def actor_from_token(token: str, secret: str) -> Actor:
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], issuer=ISSUER, options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError:
        raise _unauthorized("the token has expired", "TOKEN_EXPIRED") from None
    except jwt.InvalidTokenError as exc:
        raise _unauthorized(f"invalid token: {exc}", "TOKEN_INVALID") from None
    branches: dict[str, frozenset[Permission]] = {}
    for branch, perms in dict(claims.get("branches", {})).items():
        branches[str(branch)] = frozenset(
            Permission(p) for p in perms if p in Permission.__members__
        )
    return Actor(str(claims["sub"]), str(claims.get("name", claims["sub"])), branches)


def _unauthorized(reason: str, code: str) -> ApiError:
    return ApiError(401, reason, code=code, headers={"WWW-Authenticate": "Bearer"})


async def current_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    if credentials is None:
        raise _unauthorized("sign in: a bearer token is needed", "NOT_SIGNED_IN")
    secret: str = request.app.state.jwt_secret
    return actor_from_token(credentials.credentials, secret)


CurrentActor = Annotated[Actor, Depends(current_actor)]


async def stream_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    access_token: Annotated[str | None, Query(max_length=4096)] = None,
) -> Actor:
    """The browser's EventSource cannot send a header: for the live stream the token may
    come in the query string (access logs leave query strings out)."""
    if credentials is None and access_token:
        return actor_from_token(access_token, request.app.state.jwt_secret)
    return await current_actor(request, credentials)


StreamActor = Annotated[Actor, Depends(stream_actor)]
