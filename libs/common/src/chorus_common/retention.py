"""Retention: what a service keeps only for a while, deleted in bounded batches.

Each rule names a table and which of its rows have expired at a given time; a purge deletes them
`batch_size` at a time, each batch in its own short transaction (rows locked by someone else are
skipped, and taken by the next run), so that a purge never holds a long lock nor a long transaction.
Every service keeps its published outbox rows and its inbox ids for a while (`ServiceRuntime` adds
those rules); a service adds the rules of its own tables with `ServiceRuntime.retain`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

Expired = Callable[[datetime], sa.ColumnElement[bool]]


@dataclass(frozen=True)
class RetentionRule:
    """Rows of `table` that `expired(now)` selects are deleted; or, when `erase` is given, their columns
    it names are overwritten with its values and the rows kept (an e-mail address erased from a record
    that stays a while longer)."""

    what: str
    table: sa.Table
    expired: Expired
    erase: dict[str, Any] | None = None


def older_than(column: sa.ColumnElement[Any], window: timedelta, *also: sa.ColumnElement[bool]) -> Expired:
    """Rows whose `column` is more than `window` before now (and that meet `also`)."""
    return lambda now: sa.and_(column < now - window, *also)


async def purge(engine: AsyncEngine, rule: RetentionRule, now: datetime, batch_size: int) -> int:
    """Apply `rule` at `now`; the number of rows deleted (or erased)."""
    table = rule.table
    key = sa.tuple_(*table.primary_key.columns)
    chosen = sa.select(*table.primary_key.columns).where(rule.expired(now))
    if rule.erase is None:
        return await _in_batches(
            engine, lambda rows: sa.delete(table).where(key.in_(rows)), chosen, batch_size
        )
    values = rule.erase
    # Rows already erased are not taken again, so that every batch makes progress.
    chosen = chosen.where(sa.or_(*(table.c[name].is_distinct_from(value) for name, value in values.items())))
    return await _in_batches(
        engine, lambda rows: sa.update(table).where(key.in_(rows)).values(**values), chosen, batch_size
    )


async def _in_batches(
    engine: AsyncEngine,
    statement: Callable[[sa.Select[Any]], sa.Update | sa.Delete],
    candidates: sa.Select[Any],
    batch_size: int,
) -> int:
    done = 0
    chosen = candidates.limit(batch_size).with_for_update(skip_locked=True)
    while True:
        async with engine.begin() as conn:
            count = (await conn.execute(statement(chosen))).rowcount
        done += count
        if count < batch_size:
            return done
