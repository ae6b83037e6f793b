"""Files attached to an object of a service (a ticket, a received invoice).

A file's type is sniffed from its first bytes, never taken from its name or the client's
Content-Type: PDF, images (PNG, JPEG, GIF, TIFF), XML and office documents (Word, Excel, PowerPoint,
OpenDocument) are accepted, anything else is a 415; a file larger than the service's limit is a 413;
either way nothing is stored. What a file is (its name, type, size, digest, who attached it) is kept in
the service's `attachments` table; its bytes go through an `AttachmentStore`: PostgreSQL here
(`attachment_contents`, so that listing never reads the bytes), an object store where one is wanted.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol
from urllib.parse import quote

import filetype
import sqlalchemy as sa
from fastapi import Depends, File, Request, Response, UploadFile
from pydantic import BaseModel
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from chorus_common.problems import Problem

DEFAULT_MAX_BYTES = 10 * 1024 * 1024

# What may be attached, by sniffed type.
ACCEPTED = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/tiff": "tif",
    "application/xml": "xml",
    "application/msword": "doc",
    "application/vnd.ms-excel": "xls",
    "application/vnd.ms-powerpoint": "ppt",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
}
_XML_STARTS = (b"<?xml", b"<")
_HTML_STARTS = (b"<!doctype html", b"<html")  # a page, not a document


def _is_xml(head: bytes) -> bool:
    """XML has no magic number for `filetype` to find: a text document (UTF-8, possibly with a BOM)
    whose first non-blank character opens a tag, and that holds no NUL byte."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if b"\x00" in head or not text.startswith(_XML_STARTS) or text[:15].lower().startswith(_HTML_STARTS):
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:  # a multi-byte character cut at the end of the head is fine
        return error.start >= len(head) - 3
    return True


def sniff(data: bytes) -> str | None:
    """The accepted type of `data`, from its content; None for any other."""
    kind = filetype.guess(data)  # it reads the first 8 KiB
    if kind is not None:
        return kind.mime if kind.mime in ACCEPTED else None
    return "application/xml" if _is_xml(data[:4096]) else None


def attachment_tables(metadata: sa.MetaData) -> tuple[sa.Table, sa.Table]:
    """The `attachments` table (what each file is and what it is attached to) and the
    `attachment_contents` table of the PostgreSQL store."""
    attachments = sa.Table(
        "attachments",
        metadata,
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("owner_id", sa.Uuid, nullable=False),  # the ticket, the invoice
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("uploaded_by", sa.String(320), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Index("ix_attachments_owner", "owner_id", "uploaded_at"),
    )
    contents = sa.Table(
        "attachment_contents",
        metadata,
        sa.Column("id", sa.Uuid, sa.ForeignKey("attachments.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
    )
    return attachments, contents


class AttachmentStore(Protocol):
    """Where the bytes of attached files are kept, in the transaction of `conn` when it can be."""

    async def put(self, conn: AsyncConnection, attachment_id: uuid.UUID, data: bytes) -> None: ...

    async def get(self, conn: AsyncConnection, attachment_id: uuid.UUID) -> bytes | None: ...


@dataclass(frozen=True)
class PostgresStore:
    contents: sa.Table

    async def put(self, conn: AsyncConnection, attachment_id: uuid.UUID, data: bytes) -> None:
        await conn.execute(self.contents.insert().values(id=attachment_id, data=data))

    async def get(self, conn: AsyncConnection, attachment_id: uuid.UUID) -> bytes | None:
        query = sa.select(self.contents.c.data).where(self.contents.c.id == attachment_id)
        found = (await conn.execute(query)).scalar_one_or_none()
        return bytes(found) if found is not None else None


@dataclass(frozen=True)
class Attachments:
    """A service's attachments: its table and its store."""

    table: sa.Table
    store: AttachmentStore

    @classmethod
    def in_postgres(cls, tables: tuple[sa.Table, sa.Table]) -> Attachments:
        attachments, contents = tables
        return cls(attachments, PostgresStore(contents))

    @staticmethod
    def checked(upload: Upload) -> str:
        """The type of a file that may be attached (413 or 415 otherwise)."""
        filename, data = upload.filename, upload.data
        if len(data) > upload.max_bytes:
            raise Problem(
                413,
                "attachment-too-large",
                "Attachment too large",
                f"{filename}: more than the {upload.max_bytes} bytes an attachment may have",
                max_bytes=upload.max_bytes,
            )
        content_type = sniff(data)
        if content_type is None:
            raise Problem(
                415,
                "attachment-type-refused",
                "Attachment type refused",
                f"{filename}: not a PDF, an image (PNG, JPEG, GIF, TIFF), XML or an office document",
                accepted=sorted(ACCEPTED),
            )
        return content_type

    async def add(
        self, conn: AsyncConnection, owner_id: uuid.UUID, upload: Upload, by: str, at: datetime
    ) -> dict[str, Any]:
        """Attach a file to `owner_id`, in the caller's transaction; what it is."""
        attachment_id = uuid.uuid4()
        data = upload.data
        values: dict[str, Any] = {
            "id": attachment_id,
            "owner_id": owner_id,
            "filename": upload.filename,
            "content_type": self.checked(upload),
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "uploaded_by": by,
            "uploaded_at": at,
        }
        await conn.execute(self.table.insert().values(**values))
        await self.store.put(conn, attachment_id, data)
        return values

    async def of(self, conn: AsyncConnection, owner_id: uuid.UUID) -> list[RowMapping]:
        query = (
            sa.select(self.table)
            .where(self.table.c.owner_id == owner_id)
            .order_by(self.table.c.uploaded_at, self.table.c.id)
        )
        return list((await conn.execute(query)).mappings())

    async def fetch(
        self, conn: AsyncConnection, owner_id: uuid.UUID, attachment_id: uuid.UUID
    ) -> tuple[RowMapping, bytes]:
        """The attachment of `owner_id` and its bytes (404 for any other)."""
        query = sa.select(self.table).where(
            self.table.c.id == attachment_id, self.table.c.owner_id == owner_id
        )
        row = (await conn.execute(query)).mappings().first()
        data = await self.store.get(conn, attachment_id) if row is not None else None
        if row is None or data is None:
            raise Problem(404, "not-found", "Resource not found", "Attachment not found")
        return row, data


@dataclass(frozen=True)
class Upload:
    """A file sent to be attached, read up to one byte past the service's limit."""

    filename: str
    data: bytes
    max_bytes: int


async def read_upload(file: UploadFile, max_bytes: int) -> Upload:
    """The file's name (its base name, at most 255 printable characters) and bytes, reading one byte
    past the limit at most, so that `Attachments.checked` sees a file too large without holding it."""
    raw_name = (file.filename or "piece-jointe").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in raw_name if c.isprintable()).strip() or "piece-jointe"
    return Upload(name[:255], await file.read(max_bytes + 1), max_bytes)


async def _upload(
    request: Request, file: Annotated[UploadFile, File(description="the file to attach")]
) -> Upload:
    max_bytes: int = request.app.state.runtime.settings.attachment_max_bytes
    return await read_upload(file, max_bytes)


# A multipart/form-data request's `file`, read under the service's CHORUS_ATTACHMENT_MAX_BYTES.
UploadDep = Annotated[Upload, Depends(_upload)]


class AttachmentOut(BaseModel):
    id: uuid.UUID
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


def download(row: Mapping[str, Any], data: bytes) -> Response:
    """The file as a download: its sniffed type, never rendered by the browser as a page."""
    name = quote(row["filename"], safe="")
    return Response(
        data,
        media_type=row["content_type"],
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


# The attachments tables' schema, which the migrations of every service holding attachments apply to
# its own database (frozen here as they were first created: a later change is a new step).


def create_attachment_tables() -> None:
    """Migration step: the `attachments` and `attachment_contents` tables."""
    from alembic import op

    op.create_table(
        "attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.String(length=320), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_attachments_owner", "attachments", ["owner_id", "uploaded_at"])
    op.create_table(
        "attachment_contents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["id"], ["attachments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )


def drop_attachment_tables() -> None:
    """Its reverse."""
    from alembic import op

    op.drop_table("attachment_contents")
    op.drop_index("ix_attachments_owner", table_name="attachments")
    op.drop_table("attachments")
