"""Tables of the piste-gateway service: its read models (the directory's structures, services, users
and technical accounts), the client applications it issues tokens to, and the integer ids Chorus Pro's
API speaks beside the platform's own keys."""

from __future__ import annotations

import sqlalchemy as sa

from chorus_common.replica import replica_tables
from chorus_common.runtime import messaging_tables

metadata = sa.MetaData()
outbox, inbox = messaging_tables(metadata)
# What this service knows of the directory, fed by its snapshot events (chorus_common.replica).
replica = replica_tables(metadata)

TIMESTAMP = sa.DateTime(timezone=True)

# The technical accounts of the directory (`technical-account-updated`): the login a caller names in
# `cpro-account`, the structure it acts for, and the hash its password is checked against.
technical_accounts = sa.Table(
    "technical_accounts",
    metadata,
    sa.Column("login", sa.String(100), primary_key=True),
    sa.Column("structure_id", sa.String(100), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", TIMESTAMP, nullable=False),
)

# The applications registered to call the API (PISTE's client_id / client_secret), each connected to
# one structure: its calls act only through that structure's technical accounts.
clients = sa.Table(
    "clients",
    metadata,
    sa.Column("client_id", sa.String(64), primary_key=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),  # SHA-256 of a 256-bit random secret
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("structure_id", sa.String(100), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", TIMESTAMP, nullable=False),
)

# Chorus Pro's API names objects by integers (idService, identifiantFactureCPP, ...): each key of the
# platform gets one here the first time the gateway shows it, and keeps it.
numbers = sa.Table(
    "numbers",
    metadata,
    sa.Column("number", sa.BigInteger, sa.Identity(start=1), primary_key=True),
    sa.Column("kind", sa.String(30), nullable=False),
    sa.Column("key", sa.String(300), nullable=False),
    sa.UniqueConstraint("kind", "key", name="uq_numbers_kind_key"),
)
