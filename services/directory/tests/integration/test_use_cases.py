"""The directory's use cases and commands called directly, against the real PostgreSQL and RabbitMQ."""

import argparse
from pathlib import Path

import pytest
import sqlalchemy as sa

from chorus_testing.fixtures import BusProbe, eventually, take
from chorus_testing.identifiers import new_siret
from directory import jobs, repository, use_cases
from directory.db import outbox
from directory.jobs import OPERATOR

from .conftest import RunningDirectory, about

HEADER = "identifier;identifier_type;name;kind;public_category;email\n"


async def import_file(
    directory: RunningDirectory, path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    code = await jobs.import_command(argparse.Namespace(file=path), directory.settings)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


async def test_importing_a_referential_twice_registers_once_and_a_bad_line_imports_nothing(
    directory: RunningDirectory, bus: BusProbe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    ministry, hospital, city = new_siret(), new_siret(), new_siret()
    path = tmp_path / "referential.csv"
    path.write_text(
        "\ufeff"
        + HEADER
        + f"{ministry};SIRET;Ministère;PUBLIQUE;ETAT;m@example.fr\n"
        + f"{hospital};SIRET;CHU;PUBLIQUE;HOSPITALIER;\n",
        encoding="utf-8",
    )
    registered, updated = await bus.tap("structure-registered"), await bus.tap("structure-updated")
    assert await import_file(directory, path, capsys) == (
        0,
        f"{path}: 2 registered, 0 updated, 0 unchanged\n",
    )
    assert await import_file(directory, path, capsys) == (
        0,
        f"{path}: 0 registered, 0 updated, 2 unchanged\n",
    )
    for siret in (ministry, hospital):
        assert [e["data"]["version"] for e in await about(registered, siret)] == [1]

    path.write_text(
        HEADER
        + f"{ministry};SIRET;Ministère des Armées;PUBLIQUE;ETAT;m@example.fr\n"
        + f"{city};SIRET;Ville;PUBLIQUE;COLLECTIVITE;\n"
        + f"{city[:-1]}{(int(city[-1]) + 1) % 10};SIRET;Erreur;PUBLIQUE;ETAT;\n"
    )
    code, output = await import_file(directory, path, capsys)
    assert code == 1 and "nothing imported: line 4: identifier: the SIRET's check digit is wrong" in output
    async with directory.runtime.engine.connect() as conn:
        assert (await repository.get_structure(conn, ministry))["name"] == "Ministère"
        assert await repository.get_structure(conn, city) is None

    path.write_text(HEADER + f"{ministry};SIRET;Ministère des Armées;PUBLIQUE;ETAT;m@example.fr\n")
    assert await import_file(directory, path, capsys) == (
        0,
        f"{path}: 0 registered, 1 updated, 0 unchanged\n",
    )
    [renamed] = await about(updated, ministry)
    assert renamed["data"]["version"] == 2 and renamed["data"]["name"] == "Ministère des Armées"


async def test_replay_publishes_every_object_with_its_current_version(
    directory: RunningDirectory, bus: BusProbe
):
    siret = new_siret()
    uow = directory.runtime.unit_of_work
    nina = f"nina-{siret}"
    await use_cases.import_structures(
        uow(OPERATOR),
        [
            (
                1,
                use_cases.NewStructure(
                    siret,
                    jobs.IdentifierType.SIRET,
                    "CHU",
                    jobs.StructureKind.PUBLIQUE,
                    jobs.PublicCategory.HOSPITALIER,
                ),
            )
        ],
    )
    await use_cases.add_service(uow(OPERATOR), siret, use_cases.NewService("URG", "Urgences"))
    await use_cases.attach_user(
        uow(OPERATOR),
        siret,
        nina,
        use_cases.Attach(jobs.Role.GESTIONNAIRE_PRINCIPAL, True, None, "nina@example.fr"),
    )
    await use_cases.change_structure(uow(OPERATOR), siret, use_cases.StructureChanges(name="CHU de Lyon"))
    taps = {kind: await bus.tap(kind) for kind in ("structure-updated", "service-updated", "user-updated")}

    report = await use_cases.replay(uow(OPERATOR))

    assert report.structures >= 1 and report.services >= 1 and report.users >= 1
    [structure] = await about(taps["structure-updated"], siret)
    assert (structure["data"]["version"], structure["data"]["name"]) == (2, "CHU de Lyon")
    [service] = await about(taps["service-updated"], f"{siret}/URG")
    assert service["data"]["version"] == 1
    [user] = await about(taps["user-updated"], nina)
    assert user["data"]["attachments"] == [
        {"structure_id": siret, "service_code": None, "role": "GESTIONNAIRE_PRINCIPAL", "notifications": True}
    ]


async def test_seed_dev_twice_changes_nothing_the_second_time(directory: RunningDirectory, bus: BusProbe):
    await jobs.seed(directory.runtime.unit_of_work(OPERATOR))

    async def outbox_published() -> bool:
        async with directory.runtime.engine.connect() as conn:
            pending = await conn.scalar(
                sa.select(sa.func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
        return pending == 0

    await eventually(outbox_published)
    tap = await bus.tap("#")
    await jobs.seed(directory.runtime.unit_of_work(OPERATOR))
    assert await take(tap, 1, within=2) == []
    me = await use_cases.me(directory.runtime.unit_of_work(jobs.Principal(sub="jules")))
    assert [(a["structure_id"], a["service_code"]) for a in me["attachments"]] == [("11004601800013", "DAF")]
