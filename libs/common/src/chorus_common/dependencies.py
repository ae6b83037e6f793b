"""Typed dependencies of every service's HTTP layer: what a route declares it needs, by type.

`UnitOfWorkDep` is a unit of work of the service for the authenticated caller (401 without a valid
bearer token), whose structures are the ones the service's rights give it (its attachments in the
directory, for a service that keeps a replica); `PublicUnitOfWorkDep` one with no caller, for
signed-out routes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from chorus_common.auth import CurrentPrincipal
from chorus_common.runtime import ServiceRuntime
from chorus_common.unit_of_work import UnitOfWork


def _runtime(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


async def _unit_of_work(request: Request, principal: CurrentPrincipal) -> UnitOfWork:
    runtime = _runtime(request)
    if runtime.rights is not None:
        principal = await runtime.rights(principal)
    return runtime.unit_of_work(principal)


async def _public_unit_of_work(request: Request) -> UnitOfWork:
    return _runtime(request).unit_of_work()


UnitOfWorkDep = Annotated[UnitOfWork, Depends(_unit_of_work)]
PublicUnitOfWorkDep = Annotated[UnitOfWork, Depends(_public_unit_of_work)]
