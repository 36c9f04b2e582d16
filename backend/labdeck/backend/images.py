"""Uploaded pictures (profile image F-US-2, team avatar F-TS-3) turned into a
square PNG thumbnail.

An upload is hostile until proven otherwise: it is size-capped before any
decoding, opened only by the four decoders we accept (so a crafted file
cannot reach a less-audited Pillow plugin), checked for a pixel count that
would exhaust memory before its pixels are decoded, and re-encoded from the
decoded pixels, which also drops every metadata chunk (EXIF GPS, comments).
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps

from .errors import Invalid, TooLarge

MAX_IMAGE_BYTES = 5 * 1024 * 1024
# Far above any real photo a profile needs, far below what would exhaust the
# server's memory once decoded (40 Mpx × 4 bytes ≈ 160 MB).
MAX_IMAGE_PIXELS = 40_000_000
ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
# What Pillow raises for damaged, truncated or hostile input.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def _refuse(field: str) -> Invalid:
    return Invalid(f"{field} must be a PNG, JPEG, GIF or WebP image", field=field)


def _open(data: bytes, field: str) -> Image.Image:
    """Open with the accepted decoders only; Pillow reads just the header here."""
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except _DECODE_ERRORS:
        raise _refuse(field) from None
    if image.format not in ACCEPTED_FORMATS:
        raise _refuse(field)
    width, height = image.size
    if width < 1 or height < 1 or width * height > MAX_IMAGE_PIXELS:
        raise Invalid(
            f"{field} is {width}×{height} pixels; at most {MAX_IMAGE_PIXELS:,} pixels are accepted",
            field=field,
        )
    return image


def square_png_thumbnail(data: bytes, *, field: str = "image", size: int = 256) -> bytes:
    """The image centre-cropped to a square, scaled to `size`×`size`, as PNG."""
    if size < 1:
        raise ValueError("size must be positive")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise Invalid(f"{field} must be the bytes of an image", field=field)
    data = bytes(data)
    if len(data) > MAX_IMAGE_BYTES:
        raise TooLarge(
            f"{field} is {len(data):,} bytes; at most 5 MB ({MAX_IMAGE_BYTES:,} bytes) is accepted",
            field=field,
        )
    if not data:
        raise Invalid(f"{field} is empty", field=field)
    # verify() checks the structure (chunk CRCs) without decoding, and leaves
    # the image unusable, so the pixels are decoded from a second open.
    try:
        _open(data, field).verify()
        image = _open(data, field)
        image.draft("RGB", (size, size))
        image.load()
        image = ImageOps.exif_transpose(image)
        has_alpha = "A" in image.getbands() or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
        square = ImageOps.fit(image, (size, size), Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    except _DECODE_ERRORS:
        raise _refuse(field) from None
    out = io.BytesIO()
    square.save(out, format="PNG", optimize=True)
    return out.getvalue()
