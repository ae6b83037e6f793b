"""The HTTP API of the support portal, one module per resource: each translates requests into use cases.

`pages` serves the signed-out web pages (HTML, not in the OpenAPI document).
"""

from support_portal.api import pages, public, tickets

ROUTERS = [tickets.router, public.router, pages.router]
