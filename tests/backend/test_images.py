"""The upload → square PNG thumbnail path (F-US-2, F-TS-3): what it accepts,
what it makes of it, and every kind of hostile or broken input it refuses."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from labdeck.backend.errors import Invalid, TooLarge
from labdeck.backend.images import MAX_IMAGE_BYTES, square_png_thumbnail

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def three_bands(width: int = 300, height: int = 100) -> Image.Image:
    """Red | green | blue thirds: a centre crop keeps only green."""
    image = Image.new("RGB", (width, height), RED)
    image.paste(GREEN, (width // 3, 0, 2 * width // 3, height))
    image.paste(BLUE, (2 * width // 3, 0, width, height))
    return image


def close(pixel: tuple[int, ...], colour: tuple[int, int, int], tol: int = 40) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(pixel[:3], colour, strict=True))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_each_accepted_format_becomes_a_centre_cropped_square_png(fmt: str) -> None:
    thumb = decode(square_png_thumbnail(encode(three_bands(), fmt)))
    assert thumb.format == "PNG"
    assert thumb.size == (256, 256)
    rgb = thumb.convert("RGB")
    # Only the middle third survives a centre crop of a 3:1 picture.
    for x in (5, 128, 250):
        assert close(rgb.getpixel((x, 128)), GREEN), (fmt, x, rgb.getpixel((x, 128)))


def test_tall_pictures_are_cropped_around_their_middle_too() -> None:
    tall = three_bands(300, 100).rotate(90, expand=True)
    rgb = decode(square_png_thumbnail(encode(tall, "PNG"))).convert("RGB")
    assert close(rgb.getpixel((128, 5)), GREEN) and close(rgb.getpixel((128, 250)), GREEN)


def test_size_is_honoured_and_small_pictures_are_scaled_up() -> None:
    assert decode(square_png_thumbnail(encode(three_bands(), "PNG"), size=64)).size == (64, 64)
    tiny = Image.new("RGB", (3, 5), BLUE)
    assert decode(square_png_thumbnail(encode(tiny, "PNG"))).size == (256, 256)


def test_transparency_survives() -> None:
    image = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (20, 20, 30, 30))
    thumb = decode(square_png_thumbnail(encode(image, "PNG")))
    assert thumb.mode == "RGBA"
    assert thumb.getpixel((2, 2))[3] == 0
    assert thumb.getpixel((128, 128))[3] == 255


def test_palette_gif_with_a_transparent_colour_keeps_it() -> None:
    image = Image.new("P", (40, 40), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.paste(1, (10, 10, 30, 30))
    thumb = decode(square_png_thumbnail(encode(image, "GIF", transparency=0)))
    assert thumb.mode == "RGBA"
    assert thumb.getpixel((1, 1))[3] == 0
    assert close(thumb.getpixel((128, 128)), RED)


def test_animated_gif_uses_its_first_frame() -> None:
    frames = [Image.new("RGB", (30, 30), c) for c in (GREEN, RED, BLUE)]
    data = io.BytesIO()
    frames[0].save(data, format="GIF", save_all=True, append_images=frames[1:], duration=50)
    thumb = decode(square_png_thumbnail(data.getvalue())).convert("RGB")
    assert close(thumb.getpixel((128, 128)), GREEN)


def test_jpeg_orientation_tag_is_applied() -> None:
    """A phone photo stored sideways with "rotate 90° clockwise" in its EXIF:
    the thumbnail must show it the right way up."""
    image = Image.new("RGB", (200, 100), RED)
    image.paste(BLUE, (100, 0, 200, 100))
    exif = Image.Exif()
    exif[0x0112] = 6
    thumb = decode(square_png_thumbnail(encode(image, "JPEG", exif=exif))).convert("RGB")
    # Upright, the left half (red) is on top and the right half (blue) below.
    assert close(thumb.getpixel((128, 20)), RED)
    assert close(thumb.getpixel((128, 236)), BLUE)


def test_metadata_is_not_carried_over() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret location 48.85N 2.35E")
    png = square_png_thumbnail(encode(three_bands(), "PNG", pnginfo=info))
    assert b"secret location" not in png
    exif = Image.Exif()
    exif[0x010E] = "private description"
    jpeg_thumb = square_png_thumbnail(encode(three_bands(), "JPEG", exif=exif))
    assert b"private description" not in jpeg_thumb
    assert "exif" not in decode(jpeg_thumb).info


def test_cmyk_jpeg_is_converted() -> None:
    thumb = decode(
        square_png_thumbnail(encode(Image.new("CMYK", (40, 40), (0, 255, 255, 0)), "JPEG"))
    )
    assert thumb.mode == "RGB"
    assert close(thumb.getpixel((128, 128)), RED, tol=60)


def test_over_five_megabytes_is_too_large_before_any_decoding() -> None:
    data = encode(three_bands(), "PNG")
    with pytest.raises(TooLarge) as err:
        square_png_thumbnail(data + b"\0" * (MAX_IMAGE_BYTES + 1 - len(data)), field="avatar")
    assert err.value.field == "avatar" and "5 MB" in err.value.message
    # Exactly the limit is still decoded (and the padding after IEND ignored).
    padded = data + b"\0" * (MAX_IMAGE_BYTES - len(data))
    assert decode(square_png_thumbnail(padded)).size == (256, 256)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def _png_with_header(width: int, height: int) -> bytes:
    """A structurally valid PNG that claims any size: the decompression-bomb shape."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 2)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


def _bmp() -> bytes:
    return encode(Image.new("RGB", (10, 10), RED), "BMP")


def _tiff() -> bytes:
    return encode(Image.new("RGB", (10, 10), RED), "TIFF")


def _ico() -> bytes:
    return encode(Image.new("RGB", (16, 16), RED), "ICO")


def _truncated(fmt: str) -> bytes:
    noisy = Image.effect_noise((300, 300), 80).convert("RGB")
    data = encode(noisy, fmt)
    return data[: len(data) // 2]


def _bad_crc() -> bytes:
    data = bytearray(encode(three_bands(), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF
    return bytes(data)


def _huge_gif_screen() -> bytes:
    # GIF89a with a 65535×65535 logical screen and a 1×1 image in it.
    return (
        b"GIF89a"
        + struct.pack("<HH", 65535, 65535)
        + b"\x80\x00\x00"
        + b"\x00\x00\x00\xff\xff\xff"
        + b"\x2c"
        + struct.pack("<HHHH", 0, 0, 65535, 65535)
        + b"\x00\x02\x02\x44\x01\x00\x3b"
    )


HOSTILE = {
    "empty": lambda: b"",
    "plain text": lambda: b"hello, I am not a picture",
    "svg": lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "html": lambda: b"<html><body onload=alert(1)></body></html>",
    "random bytes": lambda: bytes(range(256)) * 40,
    "png signature only": lambda: b"\x89PNG\r\n\x1a\n",
    "bmp": _bmp,
    "tiff": _tiff,
    "ico": _ico,
    "truncated png": lambda: _truncated("PNG"),
    "truncated jpeg": lambda: _truncated("JPEG"),
    "truncated webp": lambda: _truncated("WEBP"),
    "png with a corrupt chunk": _bad_crc,
    "png claiming 100000x100000": lambda: _png_with_header(100_000, 100_000),
    "png claiming 7000x7000": lambda: _png_with_header(7000, 7000),
    "png claiming zero width": lambda: _png_with_header(0, 10),
    "gif with a 65535x65535 screen": _huge_gif_screen,
    "zip": lambda: b"PK\x03\x04" + b"\0" * 100,
    "pdf": lambda: b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_anything_but_a_sound_accepted_image_is_invalid(case: str) -> None:
    with pytest.raises(Invalid) as err:
        square_png_thumbnail(HOSTILE[case](), field="avatar")
    assert err.value.field == "avatar"
    assert err.value.message


def test_a_real_oversized_image_is_refused_by_its_pixel_count() -> None:
    """A genuinely compressible 50-megapixel PNG: small on the wire, 150 MB
    once decoded. It must be refused from its header."""
    big = encode(Image.new("L", (10_000, 5_000), 0), "PNG")
    assert len(big) < MAX_IMAGE_BYTES
    with pytest.raises(Invalid) as err:
        square_png_thumbnail(big)
    assert err.value.field == "image"
    assert "pixels" in err.value.message


@pytest.mark.parametrize("value", ["a string", None, 12, ["list"]])
def test_non_bytes_are_invalid(value: object) -> None:
    with pytest.raises(Invalid):
        square_png_thumbnail(value)  # type: ignore[arg-type]


def test_bytearray_and_memoryview_are_accepted() -> None:
    data = encode(three_bands(), "PNG")
    assert square_png_thumbnail(bytearray(data)) == square_png_thumbnail(memoryview(data))
