"""The HTTP API of the gateway: PISTE's token endpoint, Chorus Pro's `/cpro/...` resources, and the
operators' registration of client applications."""

from piste_gateway.api import (
    actions,
    admin,
    engagements,
    factures,
    invoices,
    oauth,
    structures,
    transverses,
    works,
)

ROUTERS = [
    oauth.router,
    transverses.router,
    structures.router,
    factures.router,
    invoices.router,
    actions.router,
    works.router,
    engagements.router,
    admin.router,
]
