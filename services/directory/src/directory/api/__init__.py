"""The HTTP API of the directory, one module per resource: each translates requests into use cases."""

from directory.api import services, structures, technical_accounts, users

ROUTERS = [structures.router, services.router, users.router, technical_accounts.router]
