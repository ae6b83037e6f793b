"""The directory on the launched platform: every service's replica catches up from it, and again
from a replay once a replica is lost."""

from __future__ import annotations

import asyncpg
import jwt

from chorus_common.settings import DEV_JWT_SECRET
from chorus_testing.fixtures import eventually
from chorus_testing.platform import SERVICES, Platform

READ_MODELS = [service for service in SERVICES if service != "directory"]
CULTURE = "11004601800013"


async def replica_of(platform: Platform, service: str) -> dict[str, object]:
    conn = await asyncpg.connect(platform.database_dsn(service))
    try:
        structures = {
            r["structure_id"]: r["name"] for r in await conn.fetch("SELECT * FROM directory_structures")
        }
        attachments = {
            (r["sub"], r["structure_id"], r["service_code"], r["notifications"])
            for r in await conn.fetch("SELECT * FROM directory_attachments")
        }
        services = {
            (r["structure_id"], r["code"]) for r in await conn.fetch("SELECT * FROM directory_services")
        }
    finally:
        await conn.close()
    return {"structures": structures, "attachments": attachments, "services": services}


def caught_up(replica: dict[str, object]) -> bool:
    structures, attachments, services = replica["structures"], replica["attachments"], replica["services"]
    return (
        isinstance(structures, dict)
        and structures.get(CULTURE) == "Ministère de la Culture"
        and ("jules", CULTURE, "DAF", True) in attachments  # type: ignore[operator]
        and (CULTURE, "DRAC") in services  # type: ignore[operator]
    )


async def test_every_read_model_catches_up_with_the_seeded_directory_and_again_after_a_replay(
    platform: Platform,
):
    assert "seeded 8 structures" in platform.run_command("directory", "seed-dev")
    for service in READ_MODELS:
        await eventually(
            lambda s=service: _caught_up(platform, s),
            within=60,
            what=f"{service} caught up with the directory",
        )

    # A read model rebuilt from nothing (a new service, a restored database) catches up from a replay.
    conn = await asyncpg.connect(platform.database_dsn("notifications"))
    try:
        await conn.execute(
            "TRUNCATE directory_structures, directory_services, directory_users, directory_attachments"
        )
    finally:
        await conn.close()
    assert not caught_up(await replica_of(platform, "notifications"))
    replayed = platform.run_command("directory", "replay")
    assert replayed.startswith("replayed structures: ")
    await eventually(lambda: _caught_up(platform, "notifications"), within=60, what="the replay caught up")
    # ... and the read models that were up to date are unchanged by it.
    for service in READ_MODELS:
        assert caught_up(await replica_of(platform, service)), service


async def _caught_up(platform: Platform, service: str) -> bool:
    return caught_up(await replica_of(platform, service))


def test_mint_token_gives_a_seeded_user_its_structures(platform: Platform):
    platform.run_command("directory", "seed-dev")
    token = platform.run_command("directory", "mint-token", "--sub", "jules").strip()
    claims = jwt.decode(token, DEV_JWT_SECRET, algorithms=["HS256"])
    assert (claims["sub"], claims["structures"], claims["email"]) == (
        "jules",
        [CULTURE],
        "jules@culture.example.fr",
    )
