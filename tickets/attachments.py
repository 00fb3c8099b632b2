"""What a ticket attachment may be: size, extension, and content that matches the extension.

Browsers and clients send whatever Content-Type they like, so the type is decided here from the
extension (an allow-list) and checked against the file's first bytes where that is cheap. Files are
stored under a random name (models.attachment_path) and only served through a permission-checked view.
"""

from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

ZIP = b"PK\x03\x04"
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy Office documents


@dataclass(frozen=True)
class FileType:
    content_type: str
    signatures: tuple[bytes, ...] = ()  # empty: text, checked by decoding instead
    inline: bool = False  # shown in the browser rather than downloaded


TYPES = {
    ".pdf": FileType("application/pdf", (b"%PDF-",)),
    ".png": FileType("image/png", (b"\x89PNG\r\n\x1a\n",), inline=True),
    ".jpg": FileType("image/jpeg", (b"\xff\xd8\xff",), inline=True),
    ".jpeg": FileType("image/jpeg", (b"\xff\xd8\xff",), inline=True),
    ".gif": FileType("image/gif", (b"GIF87a", b"GIF89a"), inline=True),
    ".webp": FileType("image/webp", (b"RIFF",), inline=True),
    ".txt": FileType("text/plain"),
    ".csv": FileType("text/csv"),
    ".log": FileType("text/plain"),
    ".docx": FileType("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (ZIP,)),
    ".xlsx": FileType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (ZIP,)),
    ".pptx": FileType("application/vnd.openxmlformats-officedocument.presentationml.presentation", (ZIP,)),
    ".doc": FileType("application/msword", (OLE,)),
    ".xls": FileType("application/vnd.ms-excel", (OLE,)),
    ".zip": FileType("application/zip", (ZIP, b"PK\x05\x06")),
}


def max_bytes() -> int:
    return settings.TICKETS_ATTACHMENT_MAX_BYTES


def allowed_extensions() -> list[str]:
    return sorted(TYPES)


@dataclass(frozen=True)
class CheckedFile:
    upload: object
    name: str
    content_type: str
    size: int


def attachment_check(upload) -> CheckedFile:
    """The upload if it may be stored, or ValidationError saying why not (in the user's words)."""
    name = PurePosixPath(str(upload.name or "").replace("\\", "/")).name.replace("\x00", "")[:255] or "file"
    size = upload.size or 0
    if size > max_bytes():
        raise ValidationError(
            _("“%(name)s” is %(size)s; files can be at most %(limit)s.")
            % {"name": name, "size": filesizeformat(size), "limit": filesizeformat(max_bytes())}
        )
    if size == 0:
        raise ValidationError(_("“%(name)s” is empty.") % {"name": name})
    file_type = TYPES.get(PurePosixPath(name).suffix.lower())
    if file_type is None:
        raise ValidationError(
            _("“%(name)s” is not a type of file tickets accept. Allowed: %(types)s.")
            % {"name": name, "types": ", ".join(allowed_extensions())}
        )
    upload.seek(0)
    head = upload.read(4096)
    upload.seek(0)
    if not _content_matches(file_type, head):
        raise ValidationError(_("The content of “%(name)s” does not match its extension.") % {"name": name})
    return CheckedFile(upload=upload, name=name, content_type=file_type.content_type, size=size)


def _content_matches(file_type: FileType, head: bytes) -> bool:
    if file_type.signatures:
        if file_type.content_type == "image/webp":
            return head.startswith(b"RIFF") and head[8:12] == b"WEBP"
        return head.startswith(file_type.signatures)
    # Text in any encoding (UTF-8, Big5, GBK) has no NUL bytes; executables and archives do.
    return b"\x00" not in head


def is_inline(content_type: str) -> bool:
    return any(t.inline and t.content_type == content_type for t in TYPES.values())
