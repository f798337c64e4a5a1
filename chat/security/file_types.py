"""What an uploaded file really is: decided from its bytes, never from its name or the browser's claim."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

# Beyond this many pixels an image is refused unread: a small file can decode to gigabytes.
MAX_IMAGE_PIXELS = 40_000_000
THUMBNAIL_SIZE = (320, 320)

# The types Parley can tell apart by their first bytes, and the names such a file may carry.
SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),  # after "RIFF" and a length
    (b"%PDF-", 0, "application/pdf"),
)
EXTENSIONS = {
    "image/png": {"png"},
    "image/jpeg": {"jpg", "jpeg"},
    "image/gif": {"gif"},
    "image/webp": {"webp"},
    "application/pdf": {"pdf"},
    "text/plain": {"txt", "log", "csv"},
}
IMAGES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
# Names that say "this runs" (markup, scripts, programs): refused as such, whatever the bytes look like.
NEVER = {
    "svg",
    "svgz",
    "html",
    "htm",
    "xhtml",
    "xml",
    "js",
    "mjs",
    "exe",
    "msi",
    "bat",
    "cmd",
    "sh",
    "ps1",
    "vbs",
    "jar",
    "apk",
    "dmg",
    "scr",
    "com",
    "dll",
    "swf",
}
PILLOW_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}

# Markup a browser might run if it ever sniffed the file as a page, and archives hidden behind another type
# (a "polyglot": an image that is also a ZIP or a JAR, a PDF that is also HTML).
_MARKUP = re.compile(rb"<\s*(script|html|svg|iframe|object|embed|body|head|meta|!doctype)\b", re.IGNORECASE)
_ARCHIVE = (b"PK\x03\x04", b"PK\x05\x06", b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c")


class FileRefused(Exception):
    """A file Parley will not keep; `detail` says why, for the uploader."""

    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Inspected:
    """A file that passed: its real type, the bytes to keep, and for images their size and a thumbnail."""

    content_type: str
    data: bytes
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None

    @property
    def is_image(self) -> bool:
        return self.content_type in IMAGES


def sniff(data: bytes) -> str | None:
    """The type the bytes say they are, or None: the signatures above, else UTF-8 text without NULs."""
    for signature, offset, content_type in SIGNATURES:
        if data[offset : offset + len(signature)] == signature:
            if content_type == "image/webp" and not data.startswith(b"RIFF"):
                continue
            return content_type
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "text/plain" if text and "\x00" not in text else None


def inspect(name: str, data: bytes, *, allowed: set[str]) -> Inspected:
    """Decide what the upload is and prepare what is kept; FileRefused when it is not allowed or not what it says."""
    if not data:
        raise FileRefused("empty_file", "The file is empty.")
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension in NEVER:
        raise FileRefused("type_not_allowed", f"{extension.upper()} files cannot be sent here.")
    content_type = sniff(data)
    if content_type is None or content_type not in allowed:
        raise FileRefused("type_not_allowed", "This kind of file cannot be sent here.")
    if extension not in EXTENSIONS[content_type]:
        raise FileRefused("type_mismatch", f"The file's name does not match its content ({content_type}).")
    if content_type in IMAGES:
        return _image(content_type, data)
    if _MARKUP.search(data[:4096]) or any(marker in data for marker in _ARCHIVE):
        raise FileRefused("type_mismatch", "The file holds more than its type allows.")
    return Inspected(content_type, data)


def _image(content_type: str, data: bytes) -> Inspected:
    """Decode and re-encode the image: EXIF (location) and anything appended to it are gone, a thumbnail made."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > MAX_IMAGE_PIXELS:
                raise FileRefused("too_large", "The image has too many pixels.")
            if PILLOW_FORMATS[content_type] != probe.format:
                raise FileRefused("type_mismatch", "The image is not what its first bytes say.")
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            # Turned as the camera meant, before the orientation tag goes with the rest of EXIF.
            upright = ImageOps.exif_transpose(image) if content_type != "image/gif" else image
            kept = _encode(upright, content_type)
            thumbnail = upright.copy()
            thumbnail.thumbnail(THUMBNAIL_SIZE)
            small = _encode(thumbnail, "image/png" if content_type == "image/gif" else content_type)
            return Inspected(content_type, kept, upright.width, upright.height, small)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise FileRefused("type_mismatch", "The image cannot be read.") from None


def _encode(image: Image.Image, content_type: str) -> bytes:
    """The image in its own format, with no metadata carried over."""
    out = io.BytesIO()
    fmt = PILLOW_FORMATS[content_type]
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    options = {"quality": 90} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "GIF" and getattr(image, "is_animated", False):
        options.update(save_all=True)
    image.save(out, format=fmt, **options)
    return out.getvalue()
