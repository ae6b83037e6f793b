"""Commands of notifications besides serve and migrate: what an operator does with FAILED mails."""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import timedelta

import sqlalchemy as sa

from chorus_common.clock import SystemClock
from chorus_common.db import create_engine
from chorus_common.retention import RetentionRule, older_than
from notifications import repository
from notifications.db import decisions
from notifications.settings import NotificationsSettings


def add_mails_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    failed = actions.add_parser("failed", help="the FAILED mails, oldest first, with the relay's last answer")
    failed.add_argument("--limit", type=int, default=100)
    resend = actions.add_parser("resend", help="make FAILED mails PENDING again, due now")
    resend.add_argument("ids", nargs="*", type=uuid.UUID, help="the mails' ids (GET /notifications)")
    resend.add_argument("--all-failed", action="store_true", help="every FAILED mail")


async def mails_command(args: argparse.Namespace, settings: NotificationsSettings) -> int:
    engine = create_engine(settings.database_url, pool_size=1)
    try:
        if args.action == "failed":
            async with engine.connect() as conn:
                rows = await repository.failed_mails(conn, args.limit)
            for row in rows:
                why = row["last_error"] or row["reason"]
                print(
                    f"{row['id']}  {row['decided_at']:%Y-%m-%d %H:%M}  {row['event_type']}  "
                    f"{row['recipient_email']}  attempts={row['attempts']}  {why}"
                )
            print(f"{len(rows)} failed mails", file=sys.stderr)
            return 0
        if not args.ids and not args.all_failed:
            print("name the mails to send again, or --all-failed", file=sys.stderr)
            return 2
        async with engine.begin() as conn:
            ids = None if args.all_failed else list(args.ids)
            resent = await repository.resend(conn, ids, SystemClock().now())
        print(f"{len(resent)} mails to send again (the service sends them at its next poll)")
        return 0
    finally:
        await engine.dispose()


def retention_rules(settings: NotificationsSettings) -> list[RetentionRule]:
    """Settled decisions: their addresses erased first (each replaced by a mark of its own decision, so
    that the decisions of one event stay distinct), then the decisions deleted."""
    settled = decisions.c.status != "PENDING"
    return [
        RetentionRule(
            "decision addresses",
            decisions,
            older_than(decisions.c.decided_at, timedelta(days=settings.retention_address_days), settled),
            erase={
                "recipient_email": sa.literal("erased:") + sa.cast(decisions.c.id, sa.String),
                "message": None,
            },
        ),
        RetentionRule(
            "decisions",
            decisions,
            older_than(decisions.c.decided_at, timedelta(days=settings.retention_decision_days), settled),
        ),
    ]
