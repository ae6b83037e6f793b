"""Tables of the directory service."""

from __future__ import annotations

import sqlalchemy as sa

from chorus_common.runtime import messaging_tables

metadata = sa.MetaData()
outbox, inbox = messaging_tables(metadata)

structures = sa.Table(
    "structures",
    metadata,
    # Chorus Pro's idStructureCPP: the number its API names a structure by.
    sa.Column("cpp_id", sa.BigInteger, sa.Identity(start=25000001), primary_key=True),
    sa.Column("structure_id", sa.String(100), nullable=False, unique=True),  # the identifier
    sa.Column("identifier_type", sa.String(20), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("public_category", sa.String(20)),
    sa.Column("email", sa.String(320)),
    sa.Column("vat_number", sa.String(20)),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("service_code_required", sa.Boolean, nullable=False),
    sa.Column("engagement_required", sa.Boolean, nullable=False),
    sa.Column("engagement_or_service_required", sa.Boolean, nullable=False),
    sa.Column("moa_only", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_structures_kind_name", "kind", "name"),
)

services = sa.Table(
    "services",
    metadata,
    sa.Column("structure_id", sa.String(100), sa.ForeignKey("structures.structure_id"), primary_key=True),
    sa.Column("code", sa.String(100), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("valid_from", sa.Date),
    sa.Column("valid_to", sa.Date),
    sa.Column("engagement_required", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("sub", sa.String(200), primary_key=True),  # the token's subject
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

attachments = sa.Table(
    "attachments",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("sub", sa.String(200), sa.ForeignKey("users.sub"), nullable=False),
    sa.Column("structure_id", sa.String(100), sa.ForeignKey("structures.structure_id"), nullable=False),
    # '' for the structure itself, so that the unique key below holds (NULLs are all distinct).
    sa.Column("service_code", sa.String(100), nullable=False, server_default=""),
    sa.Column("role", sa.String(30), nullable=False),
    sa.Column("notifications", sa.Boolean, nullable=False),
    sa.Column("attached_by", sa.String(200), nullable=False),
    sa.Column("attached_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("sub", "structure_id", "service_code", name="uq_attachment"),
    sa.Index("ix_attachments_structure", "structure_id", "service_code"),
    # At most one principal manager per structure, whatever two managers do at the same moment.
    sa.Index(
        "uq_attachments_principal",
        "structure_id",
        unique=True,
        postgresql_where=sa.text("role = 'GESTIONNAIRE_PRINCIPAL'"),
    ),
)

technical_accounts = sa.Table(
    "technical_accounts",
    metadata,
    sa.Column("login", sa.String(100), primary_key=True),
    sa.Column("structure_id", sa.String(100), sa.ForeignKey("structures.structure_id"), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),  # chorus_common.passwords' format
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deactivated_at", sa.DateTime(timezone=True)),
    # 1 when created, 2 once deactivated: the version of its `technical-account-updated` snapshots.
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_technical_accounts_structure", "structure_id"),
)

# The delegations of received invoices, as received-invoices publishes them (`delegation-updated`):
# what `estValideurDelegue` is derived from. A snapshot older than the row is ignored.
delegations = sa.Table(
    "received_delegations",
    metadata,
    sa.Column("delegation_id", sa.String(200), primary_key=True),
    sa.Column("delegator_structure_id", sa.String(100), nullable=False),
    sa.Column("delegate_structure_id", sa.String(100), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_received_delegations_delegate", "delegate_structure_id", "status"),
)
