"""What the portal's routes depend on, besides a unit of work."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from support_portal.use_cases import Portal


def _portal(request: Request) -> Portal:
    portal: Portal = request.app.state.portal
    return portal


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


PortalDep = Annotated[Portal, Depends(_portal)]
ClientAddressDep = Annotated[str, Depends(client_address)]
