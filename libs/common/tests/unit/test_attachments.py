import io
import zipfile

import pytest

from chorus_common.attachments import Attachments, Upload, sniff
from chorus_common.problems import Problem


def zipped(*names: str, first: tuple[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        if first is not None:
            archive.writestr(first[0], first[1])
        for name in names:
            archive.writestr(name, b"<x/>")
    return buffer.getvalue()


DOCX = zipped("word/document.xml", first=("[Content_Types].xml", b"<Types/>"))
ODT = zipped("content.xml", first=("mimetype", b"application/vnd.oasis.opendocument.text"))


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        ('<?xml version="1.0"?><Invoice>é</Invoice>'.encode(), "application/xml"),
        (b"\xef\xbb\xbf\n  <CrossIndustryInvoice/>", "application/xml"),
        (DOCX, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (ODT, "application/vnd.oasis.opendocument.text"),
    ],
)
def test_accepted_types_are_sniffed_from_the_content(data, content_type):
    assert sniff(data) == content_type


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00\x03\x00\x00\x00",  # a Windows executable
        zipped("payload.sh"),  # an archive that is no office document
        b"<!DOCTYPE html><script>alert(1)</script>",
        b"<html><body>",
        b"plain text, whatever its name says",
        b"",
    ],
)
def test_anything_else_is_refused(data):
    assert sniff(data) is None


def test_a_file_too_large_is_a_413_and_a_refused_type_a_415():
    with pytest.raises(Problem) as too_large:
        Attachments.checked(Upload("big.pdf", b"%PDF-" + b"x" * 20, max_bytes=16))
    assert (too_large.value.status, too_large.value.slug) == (413, "attachment-too-large")
    with pytest.raises(Problem) as refused:
        Attachments.checked(Upload("virus.pdf", b"MZ\x90\x00", max_bytes=16))
    assert (refused.value.status, refused.value.slug) == (415, "attachment-type-refused")
    assert Attachments.checked(Upload("ok.pdf", b"%PDF-1.7\n", max_bytes=16)) == "application/pdf"
