"""What a photo upload may be: JPEG, PNG or WebP, told from its bytes, and not too big.

The type a phone declares is not trusted on its own: the first bytes decide (a file
renamed to .jpg is refused), and a declared type that disagrees with them is refused too.
"""

from __future__ import annotations

from inspections.errors import Refused

# A phone photo compressed by the app is well under this; an uncompressed 12-MP shot
# is not, and would make every backup of the state database heavier.
MAX_PHOTO_BYTES = 5 * 1024 * 1024

JPEG, PNG, WEBP = "image/jpeg", "image/png", "image/webp"
# What a browser sends when it does not know (or an offline queue forgot the type).
_UNDECLARED = {"", "application/octet-stream"}
_WEBP_HEADER = 12


def photo_type(data: bytes) -> str | None:
    """The image type the bytes are, among the accepted ones; None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if len(data) >= _WEBP_HEADER and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    return None


def check_photo(data: bytes, declared: str | None, limit: int = MAX_PHOTO_BYTES) -> str:
    """The photo's content type, or Refused (too large, not an accepted image, mislabelled)."""
    if not data:
        raise Refused("invalid", "the photo is empty", "照片为空")
    if len(data) > limit:
        mb = limit / 1024 / 1024
        raise Refused(
            "too_large",
            f"the photo is {len(data)} bytes; at most {mb:g} MB is accepted",
            f"照片过大（{len(data)} 字节），上限 {mb:g} MB",
        )
    found = photo_type(data)
    if found is None:
        raise Refused(
            "unsupported",
            "only JPEG, PNG and WebP photos are accepted",
            "仅接受 JPEG、PNG、WebP 格式的照片",
        )
    given = (declared or "").split(";")[0].strip().lower()
    if given not in _UNDECLARED and given != found:
        raise Refused(
            "unsupported",
            f"the photo was sent as {given} but is {found}",
            f"照片声明为 {given}，实际为 {found}",
        )
    return found
