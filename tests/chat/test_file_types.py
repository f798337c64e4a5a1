"""What an upload really is (chat/security/file_types.py): types from bytes, disguises, polyglots, EXIF stripped."""

import io

import pytest
from PIL import Image

from chat.security.file_types import FileRefused, inspect, sniff

ALL = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"}


def image_bytes(fmt: str, size=(64, 48), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt, **save)
    return out.getvalue()


def jpeg_with_location() -> bytes:
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}  # GPSInfo: a latitude
    exif[0x0112] = 6  # Orientation: turned 90°
    return image_bytes("JPEG", size=(80, 40), exif=exif)


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (image_bytes("PNG"), "image/png"),
        (image_bytes("JPEG"), "image/jpeg"),
        (image_bytes("GIF"), "image/gif"),
        (image_bytes("WEBP"), "image/webp"),
        (PDF, "application/pdf"),
        (b"Order 1234, shipped\n", "text/plain"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\xff\xff", None),  # a Windows program
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", None),
        (b"PK\x03\x04\x14\x00", None),
    ],
    ids=["png", "jpeg", "gif", "webp", "pdf", "text", "exe", "elf", "zip"],
)
def test_the_type_comes_from_the_bytes(data, expected):
    assert sniff(data) == expected


def test_an_image_keeps_its_type_loses_its_location_and_gets_a_thumbnail():
    result = inspect("parcel.jpg", jpeg_with_location(), allowed=ALL)
    assert result.content_type == "image/jpeg" and result.is_image
    with Image.open(io.BytesIO(result.data)) as kept:
        assert kept.format == "JPEG"
        assert not kept.getexif()  # no GPS, no orientation tag left
        assert (kept.width, kept.height) == (40, 80)  # turned upright before the tag went
    assert (result.width, result.height) == (40, 80)
    with Image.open(io.BytesIO(result.thumbnail)) as thumb:
        assert max(thumb.size) <= 320


def test_a_large_image_gets_a_small_thumbnail():
    result = inspect("screen.png", image_bytes("PNG", size=(1600, 900)), allowed=ALL)
    with Image.open(io.BytesIO(result.thumbnail)) as thumb:
        assert thumb.size == (320, 180)


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("empty.png", b"", "empty_file"),
        ("invoice.pdf", image_bytes("PNG"), "type_mismatch"),  # a PNG named as a PDF
        ("photo.png", PDF, "type_mismatch"),
        ("setup.exe", b"MZ\x90\x00" + b"\x00" * 60, "type_not_allowed"),
        ("tool.jpg", b"MZ\x90\x00" + b"\x00" * 60, "type_not_allowed"),  # a program named as a photo
        ("drawing.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "type_not_allowed"),
        ("page.html", b"<html><script>alert(1)</script></html>", "type_not_allowed"),
        ("page.txt", b"<html><script>alert(1)</script></html>", "type_mismatch"),
        ("notes.txt", b"<script>alert(document.cookie)</script>", "type_mismatch"),
        ("report.pdf", PDF + b"<html><script>alert(1)</script>", "type_mismatch"),
        ("report.pdf", PDF + b"PK\x03\x04hidden.jar", "type_mismatch"),
        ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "type_mismatch"),
        ("noext", image_bytes("PNG"), "type_mismatch"),
    ],
    ids=[
        "empty",
        "png-as-pdf",
        "pdf-as-png",
        "exe",
        "exe-as-jpg",
        "svg-script",
        "html",
        "html-as-text",
        "text-script",
        "pdf-html-polyglot",
        "pdf-zip-polyglot",
        "truncated-png",
        "no-extension",
    ],
)
def test_a_file_that_is_not_what_it_says_is_refused(name, data, code):
    with pytest.raises(FileRefused) as refused:
        inspect(name, data, allowed=ALL)
    assert refused.value.code == code


def test_an_image_with_an_archive_appended_is_kept_without_it():
    gifar = image_bytes("GIF") + b"PK\x03\x04" + b"class Evil" * 10
    result = inspect("cat.gif", gifar, allowed=ALL)
    assert b"PK\x03\x04" not in result.data  # re-encoded: only the picture survives


def test_a_type_the_site_does_not_allow_is_refused():
    with pytest.raises(FileRefused) as refused:
        inspect("invoice.pdf", PDF, allowed={"image/png"})
    assert refused.value.code == "type_not_allowed"
