"""Alembic helpers: one database and one version table per service."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from chorus_common.db import ensure_database


def alembic_config(migrations_dir: Path, database_url: str, version_table: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["version_table"] = version_table
    return config


def upgrade(migrations_dir: Path, database_url: str, version_table: str) -> None:
    """Create the database if missing, then bring it to the latest revision (sync; own loop)."""
    asyncio.run(ensure_database(database_url))
    command.upgrade(alembic_config(migrations_dir, database_url, version_table), "head")


async def upgrade_async(migrations_dir: Path, database_url: str, version_table: str) -> None:
    """`upgrade` from inside a running event loop (alembic's env runs its own loop in a thread)."""
    await asyncio.to_thread(upgrade, migrations_dir, database_url, version_table)


def run_env(target_metadata: MetaData) -> None:
    """The body of a service's `migrations/env.py`."""
    from alembic import context

    config = context.config
    version_table = config.attributes.get("version_table", "alembic_version")
    url = config.get_main_option("sqlalchemy.url")

    def configure(connection: Connection | None) -> None:
        context.configure(
            connection=connection,
            url=None if connection is not None else url,
            target_metadata=target_metadata,
            version_table=version_table,
            compare_type=True,
            literal_binds=connection is None,
        )

    if context.is_offline_mode():
        configure(None)
        with context.begin_transaction():
            context.run_migrations()
        return

    def run(connection: Connection) -> None:
        configure(connection)
        with context.begin_transaction():
            # Replicas (or init containers) starting together apply the migrations once: the others
            # wait here, then find the database at head.
            connection.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": version_table}
            )
            context.run_migrations()

    async def run_online() -> None:
        engine = create_async_engine(str(url), poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(run)
            await connection.commit()
        await engine.dispose()

    asyncio.run(run_online())
