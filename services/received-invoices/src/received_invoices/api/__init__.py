"""The HTTP API of received-invoices, one module per resource: each translates requests into use cases."""

from received_invoices.api import delegations, invoices, structures

ROUTERS = [structures.router, delegations.router, invoices.router]
