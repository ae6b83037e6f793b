"""The HTTP API of invoicing-works, one module per resource: each translates requests into use cases."""

from chorus_common.frames import billing_frames_router
from invoicing_works.api import works_invoices

ROUTERS = [works_invoices.router, billing_frames_router(works=True)]
