"""The HTTP API of invoicing-works, one module per resource: each translates requests into use cases."""

from invoicing_works.api import works_invoices

ROUTERS = [works_invoices.router]
