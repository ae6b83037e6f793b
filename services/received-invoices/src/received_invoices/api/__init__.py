"""The HTTP API of received-invoices, one module per resource: each translates requests into use cases."""

from chorus_common.frames import billing_frames_router
from received_invoices.api import delegations, invoices

# Structures and services are the directory's (`/structures` there); this service keeps a read model.
ROUTERS = [delegations.router, invoices.router, invoices.lifecycle_router, billing_frames_router(works=False)]
