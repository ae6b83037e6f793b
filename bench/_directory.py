"""The directory as a benchmarked service's read model would have it from the snapshot events: a
supplier, a public recipient with its service SVC, and the user `bench`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from chorus_common.db import create_engine
from chorus_common.events import ServiceSnapshot, StructureSnapshot, UserAttachment, UserSnapshot
from chorus_testing.directory import into_replica, structure_snapshot


def snapshots(
    supplier: str,
    recipient: str,
    attached_to: Iterable[str],
    recipient_name: str = "Ministère",
    recipient_category: str = "ETAT",
) -> tuple[StructureSnapshot | ServiceSnapshot | UserSnapshot, ...]:
    """The supplier, the recipient with its service SVC, and the user `bench` attached to `attached_to`."""
    now = datetime.now(UTC)
    return (
        structure_snapshot(supplier, kind="PRIVEE", name="Fournisseur"),
        structure_snapshot(
            recipient, kind="PUBLIQUE", public_category=recipient_category, name=recipient_name
        ),
        ServiceSnapshot(
            structure_id=recipient,
            code="SVC",
            name="Service",
            active=True,
            engagement_required=False,
            version=1,
            updated_at=now,
        ),
        UserSnapshot(
            sub="bench",
            email="bench@example.fr",
            name="Bench",
            attachments=[
                UserAttachment(structure_id=structure, role="UTILISATEUR", notifications=False)
                for structure in attached_to
            ],
            version=1,
            updated_at=now,
        ),
    )


async def into(
    database_url: str, known: Iterable[StructureSnapshot | ServiceSnapshot | UserSnapshot]
) -> None:
    """Apply the snapshots to the read model in the database at `database_url`."""
    engine = create_engine(database_url, 1)
    try:
        await into_replica(engine, *known)
    finally:
        await engine.dispose()
