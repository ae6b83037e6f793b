"""The HTTP API of notifications, one module per resource: each translates requests into use cases."""

from notifications.api import notifications

ROUTERS = [notifications.router]
