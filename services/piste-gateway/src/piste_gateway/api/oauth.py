"""`POST /api/oauth/token`: PISTE's OAuth 2.0 token endpoint, client credentials grant (RFC 6749 §4.4),
the client's credentials in the form body or as HTTP Basic (§2.3.1)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import APIRouter, Form, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from chorus_common.dependencies import PublicUnitOfWorkDep
from piste_gateway.access import OAuthError
from piste_gateway.api.deps import access

router = APIRouter(tags=["oauth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    scope: str = "openid"


def _basic(authorization: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, colon, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (unquote_plus(client_id), unquote_plus(secret)) if colon else None


@router.post(
    "/api/oauth/token",
    response_model=TokenOut,
    summary="An access token for a registered application (client credentials)",
    responses={400: {"description": "OAuth error"}, 401: {"description": "OAuth error: invalid_client"}},
)
async def token(
    request: Request,
    uow: PublicUnitOfWorkDep,
    grant_type: Annotated[str | None, Form(max_length=50)] = None,
    client_id: Annotated[str | None, Form(max_length=200)] = None,
    client_secret: Annotated[str | None, Form(max_length=200)] = None,
    scope: Annotated[str | None, Form(max_length=200)] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> TokenOut | JSONResponse:
    try:
        if grant_type != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", "grant_type must be client_credentials")
        credentials = _basic(authorization) or (
            (client_id, client_secret) if client_id and client_secret else None
        )
        if credentials is None:
            raise OAuthError(401, "invalid_client", "client_id and client_secret are required")
        issued = await access(request).token(uow, *credentials)
    except OAuthError as refused:
        return JSONResponse(
            {"error": refused.error, "error_description": refused.description},
            status_code=refused.status,
            headers={
                "Cache-Control": "no-store",
                **({"WWW-Authenticate": "Basic"} if refused.status == 401 else {}),
            },
        )
    return TokenOut(access_token=issued, expires_in=access(request).ttl_seconds)
