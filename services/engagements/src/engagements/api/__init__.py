"""The HTTP API of engagements, one module per resource: each translates requests into use cases."""

from engagements.api import engagements

ROUTERS = [engagements.router]
