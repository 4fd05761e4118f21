"""Cleaning images at the container level: no metadata out, the same picture out, no bombs in, nothing malformed through."""

from __future__ import annotations

import struct
import zlib

import pytest

import image_samples as S
from bastion.domain import images
from bastion.domain.errors import InvalidInput, PayloadTooLarge
from bastion.domain.images import ImageLimits, clean_image, exif_orientation

LIMITS = ImageLimits()

PNG_KEPT = {
    b"IHDR",
    b"PLTE",
    b"IDAT",
    b"IEND",
    b"tRNS",
    b"gAMA",
    b"cHRM",
    b"sRGB",
    b"iCCP",
    b"sBIT",
    b"cICP",
    b"mDCV",
    b"cLLI",
    b"bKGD",
    b"pHYs",
    b"acTL",
    b"fcTL",
    b"fdAT",
    b"eXIf",
}
JPEG_KEPT = {0xD8, 0xD9, 0xDB, 0xC4, 0xCC, 0xDD, 0xDA, 0xC0, 0xC1, 0xC2, 0xE0, 0xE1, 0xE2, 0xEE}
WEBP_KEPT = {b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L", b"EXIF"}


def no_canary(data: bytes, canary: bytes = S.CANARY) -> None:
    """The canary in none of the forms the samples wrote it: plain, UTF-16, zlib-compressed, inside XMP."""
    for form in (
        canary,
        canary.decode().encode("utf-16-le"),
        zlib.compress(canary),
        zlib.compress(S.xmp(canary)),
        canary[:12],
    ):
        assert form not in data


def only_orientation(exif: bytes, expected: int) -> None:
    """A cleaned EXIF block is the 26-byte orientation-only TIFF, nothing else."""
    exif = exif.removeprefix(b"Exif\x00\x00")
    assert len(exif) == 26 and exif_orientation(exif) == expected


def test_png_keeps_pixels_and_orientation_drops_every_metadata_chunk():
    dirty = S.png_with_metadata(S.PNG)
    assert S.CANARY in dirty and b"tIME" in dirty and b"eXIf" in dirty
    cleaned = clean_image(dirty, LIMITS)
    no_canary(cleaned.content)
    chunks = S.png_chunks(cleaned.content)  # CRCs hold, ends at IEND
    assert {k for k, _ in chunks} <= PNG_KEPT
    assert not {b"tEXt", b"zTXt", b"iTXt", b"tIME", b"sPLT", b"prVt", b"caNv"} & {k for k, _ in chunks}
    (exif,) = [d for k, d in chunks if k == b"eXIf"]
    only_orientation(exif, 6)
    assert S.png_pixels(cleaned.content) == S.png_pixels(S.PNG)  # inflates to the same filtered rows
    assert [d for k, d in chunks if k == b"IDAT"] == [d for k, d in S.png_chunks(S.PNG) if k == b"IDAT"]
    assert (cleaned.media_type, cleaned.width, cleaned.height) == ("image/png", 320, 240)


def test_jpeg_keeps_the_scan_and_colour_drops_exif_xmp_iptc_comments_thumbnails_trailers():
    dirty = S.jpeg_with_metadata(S.JPEG)
    assert S.CANARY in dirty
    cleaned = clean_image(dirty, LIMITS)
    no_canary(cleaned.content)
    segments = S.jpeg_segments(cleaned.content)  # ends at EOI: the trailer is gone
    assert {m for m, _ in segments} <= JPEG_KEPT and 0xFE not in {m for m, _ in segments}
    apps = [(m, p) for m, p in segments if 0xE0 <= m <= 0xEF]
    assert [m for m, _ in apps] == [0xE0, 0xE1, 0xE2]
    assert apps[0][1] == S.jpeg_segments(S.JPEG)[0][1][:12] + b"\x00\x00"  # JFIF, thumbnail 0×0
    only_orientation(apps[1][1], 6)
    assert apps[2][1].startswith(b"ICC_PROFILE\x00") and apps[2] in S.jpeg_segments(S.JPEG)  # colour kept as is
    original = [s for s in S.jpeg_segments(S.JPEG) if not 0xE0 <= s[0] <= 0xEF]
    assert [s for s in segments if not 0xE0 <= s[0] <= 0xEF] == original  # tables, frame, scan: byte for byte
    assert (cleaned.media_type, cleaned.width, cleaned.height) == ("image/jpeg", 48, 32)
    # the same picture without metadata comes out exactly as it went in
    assert clean_image(S.JPEG, LIMITS).content == S.JPEG


@pytest.mark.parametrize("name", ["lossy", "lossless", "alpha", "simple"])
def test_webp_drops_exif_xmp_unknown_chunks_and_fixes_the_flags(name):
    base = {
        "lossy": S.WEBP_LOSSY,
        "lossless": S.WEBP_LOSSLESS,
        "alpha": S.WEBP_ALPHA,
        "simple": S.webp_simple(S.WEBP_LOSSY),
    }[name]
    dirty = S.webp_with_metadata(base)
    assert S.CANARY in dirty
    cleaned = clean_image(dirty, LIMITS)
    no_canary(cleaned.content)
    chunks = S.riff_chunks(cleaned.content)  # the RIFF size covers the file exactly
    kinds = [k for k, _ in chunks]
    assert set(kinds) <= WEBP_KEPT and kinds[0] == b"VP8X" and kinds[-1] == b"EXIF"
    flags = chunks[0][1][0]
    assert flags & 0x04 == 0 and flags & 0x08  # no XMP, an EXIF (the orientation)
    assert bool(flags & 0x20) == (b"ICCP" in kinds) and bool(flags & 0x10) == (name == "alpha")
    only_orientation(chunks[-1][1], 6)
    images_in = [c for c in S.riff_chunks(base) if c[0] in (b"ALPH", b"VP8 ", b"VP8L", b"ICCP")]
    assert [c for c in chunks if c[0] in (b"ALPH", b"VP8 ", b"VP8L", b"ICCP")] == images_in
    assert (cleaned.media_type, cleaned.width, cleaned.height) == ("image/webp", 48, 32)


def test_webp_animation_frames_are_rebuilt_without_unknown_chunks():
    dirty = S.webp_animated(S.WEBP_ALPHA)
    assert S.CANARY in dirty
    cleaned = clean_image(dirty, LIMITS)
    no_canary(cleaned.content)
    chunks = S.riff_chunks(cleaned.content)
    assert [k for k, _ in chunks] == [b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"EXIF"]
    frame = chunks[3][1]
    assert [k for k, _ in S._chunks(frame, 16)] == [b"ALPH", b"VP8 "]


def test_gif_drops_comments_text_and_application_blocks_but_keeps_the_loop():
    dirty = S.gif_with_metadata(S.GIF)
    assert S.CANARY in dirty
    cleaned = clean_image(dirty, LIMITS)
    no_canary(cleaned.content)
    blocks = S.gif_blocks(cleaned.content)
    assert blocks == S.gif_blocks(S.GIF)  # the loop count, the graphic controls and both frames, nothing else
    assert [k for k, _ in blocks] == [0xFF, 0xF9, 0x2C, 0xF9, 0x2C]
    assert (cleaned.media_type, cleaned.width, cleaned.height) == ("image/gif", 12, 8)


@pytest.mark.parametrize("sample", ["png", "jpeg", "webp", "gif"])
def test_cleaning_is_idempotent_and_metadata_does_not_change_the_stored_bytes(sample):
    base, dirty = {
        "png": (S.PNG, S.png_with_metadata(S.PNG, orientation=1)),
        "jpeg": (S.JPEG, S.jpeg_with_metadata(S.JPEG, orientation=1)),
        "webp": (S.WEBP_LOSSY, S.webp_with_metadata(S.WEBP_LOSSY, orientation=1)),
        "gif": (S.GIF, S.gif_with_metadata(S.GIF)),
    }[sample]
    once = clean_image(dirty, LIMITS).content
    assert clean_image(once, LIMITS).content == once
    expected = clean_image(base, LIMITS).content
    if sample == "webp":  # the file gained a VP8X only to carry the metadata; the picture is the same
        assert [c for c in S.riff_chunks(once) if c[0] != b"VP8X"] == [
            c for c in S.riff_chunks(expected) if c[0] != b"VP8X"
        ]
    else:
        assert once == expected


def test_orientation_is_read_from_either_byte_order_and_the_default_is_not_written():
    little = b"II\x2a\x00\x08\x00\x00\x00\x01\x00" + struct.pack("<HHIHH", 0x0112, 3, 1, 8, 0) + b"\x00" * 4
    assert exif_orientation(little) == 8 and exif_orientation(b"Exif\x00\x00" + little) == 8
    assert exif_orientation(b"garbage") == 1 and exif_orientation(b"MM\x00\x2a\xff\xff\xff\xff") == 1
    cleaned = clean_image(S.jpeg_with_metadata(S.JPEG, orientation=1), LIMITS).content
    assert 0xE1 not in {m for m, _ in S.jpeg_segments(cleaned)}


# -- size caps -----------------------------------------------------------------------------------


def test_a_50000_squared_zlib_bomb_is_refused_from_its_header_without_inflating(monkeypatch):
    bomb = S.png_header(50_000, 50_000, S.zlib_bomb(50_000, 50_000), color=0)
    assert len(bomb) < 4 * 1024 * 1024  # well under the upload size cap
    inflated = zlib.decompressobj()
    assert len(inflated.decompress(bomb[41:-12], 10_000_000)) == 10_000_000  # a real bomb: it keeps inflating

    def refuse(*args, **kwargs):
        raise AssertionError("the pixel data was inflated")

    monkeypatch.setattr(images.png.zlib, "decompress", refuse)
    monkeypatch.setattr(images.png.zlib, "decompressobj", refuse)
    with pytest.raises(PayloadTooLarge, match=r"50000×50000 pixels \(its pixel data would inflate to 2,500,050,000"):
        clean_image(bomb, LIMITS)


@pytest.mark.parametrize("width,height", [(2**31 - 1, 2**31 - 1), (20_001, 1), (1, 20_001), (10_001, 10_000)])
def test_png_dimensions_are_capped_from_the_header(width, height):
    with pytest.raises(PayloadTooLarge, match="max_image_side_px, max_image_pixels"):
        clean_image(S.png_header(width, height), LIMITS)


def test_png_sides_past_the_format_limit_are_malformed():
    with pytest.raises(InvalidInput, match="2³¹-1"):
        clean_image(S.png_header(2**31, 2**31), LIMITS)


def test_caps_follow_the_limits_given():
    small = ImageLimits(max_side_px=100, max_pixels=5_000)
    with pytest.raises(PayloadTooLarge, match="320×240"):
        clean_image(S.PNG, small)
    assert clean_image(S.GIF, small).width == 12
    with pytest.raises(PayloadTooLarge):
        clean_image(S.PNG, ImageLimits(max_side_px=400, max_pixels=320 * 240 - 1))
    assert clean_image(S.PNG, ImageLimits(max_side_px=320, max_pixels=320 * 240)).width == 320


def test_jpeg_webp_and_gif_headers_are_capped():
    sof = S.JPEG.replace(b"\xff\xc0\x00\x11\x08\x00\x20\x00\x30", b"\xff\xc0\x00\x11\x08\xff\xff\xff\xff", 1)
    assert sof != S.JPEG
    with pytest.raises(PayloadTooLarge, match="65535×65535"):
        clean_image(sof, LIMITS)
    chunks = S.riff_chunks(S.WEBP_LOSSY)
    huge = b"\x20\x00\x00\x00" + b"\xff\xff\xff" * 2
    with pytest.raises(PayloadTooLarge, match="16777216×16777216"):
        clean_image(S.webp_from([(b"VP8X", huge), *chunks[1:]]), LIMITS)
    with pytest.raises(PayloadTooLarge, match="65535×65535"):
        clean_image(S.GIF[:6] + b"\xff\xff\xff\xff" + S.GIF[10:], LIMITS)
    # a GIF frame far larger than its small screen
    frame_at = S.GIF.index(b"\x2c\x00\x00\x00\x00")
    big_frame = S.GIF[: frame_at + 5] + struct.pack("<HH", 60_000, 60_000) + S.GIF[frame_at + 9 :]
    with pytest.raises(PayloadTooLarge, match="a frame is 60000×60000"):
        clean_image(big_frame, LIMITS)


def test_animation_frames_must_lie_inside_the_canvas():
    chunks = S.png_chunks(S.PNG)
    fctl = struct.pack(">IIIIIHHBB", 0, 320, 240, 1, 0, 1, 10, 0, 0)
    apng = S.png_from([chunks[0], (b"acTL", struct.pack(">II", 1, 0)), (b"fcTL", fctl), *chunks[1:]])
    with pytest.raises(InvalidInput, match="does not lie inside the 320×240 image"):
        clean_image(apng, LIMITS)
    ok = S.png_from(
        [
            chunks[0],
            (b"acTL", struct.pack(">II", 1, 0)),
            (b"fcTL", struct.pack(">IIIIIHHBB", 0, 320, 240, 0, 0, 1, 10, 0, 0)),
            *chunks[1:],
        ]
    )
    assert [k for k, _ in S.png_chunks(clean_image(ok, LIMITS).content)][:3] == [b"IHDR", b"acTL", b"fcTL"]
    animated = S.riff_chunks(S.webp_animated(S.WEBP_ALPHA))
    frame = bytearray(animated[3][1])
    frame[0:3] = (2).to_bytes(3, "little")  # moved 4 px right: sticks out of the 48 px canvas
    with pytest.raises(InvalidInput, match="does not lie inside the canvas"):
        clean_image(S.webp_from([*animated[:3], (b"ANMF", bytes(frame))]), LIMITS)


# -- malformed files -----------------------------------------------------------------------------


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


MALFORMED = {
    "png truncated": (S.PNG[:-12], "ends before its IEND"),
    "png chunk past end": (S.PNG[:-20], "runs past the end"),
    "png bad crc": (_flip(S.PNG, 40), "CRC does not match"),
    "png no idat": (S.png_from([S.png_chunks(S.PNG)[0], (b"IEND", b"")]), "no IDAT"),
    "png unknown critical": (
        S.png_from([S.png_chunks(S.PNG)[0], (b"ZZZZ", b"x"), *S.png_chunks(S.PNG)[1:]]),
        "unknown critical chunk ZZZZ",
    ),
    "png first not ihdr": (S.png_from(S.png_chunks(S.PNG)[1:]), "first chunk is not IHDR"),
    "png bad depth": (S.png_header(4, 4).replace(b"\x08\x02\x00\x00\x00", b"\x03\x02\x00\x00\x00", 1), None),
    "png ihdr length": (S.png_from([(b"IHDR", b"\x00" * 12), *S.png_chunks(S.PNG)[1:]]), "not 13 bytes"),
    "png profile bomb": (
        S.png_from(
            [
                S.png_chunks(S.PNG)[0],
                (b"iCCP", b"p\x00\x00" + zlib.compress(b"\x00" * (images.MAX_ICC_BYTES + 1))),
                *S.png_chunks(S.PNG)[1:],
            ]
        ),
        "inflates past",
    ),
    "jpeg no scan": (S.JPEG[: S.JPEG.index(b"\xff\xda")] + b"\xff\xd9", "no image data"),
    "jpeg truncated scan": (S.JPEG[:-40], "without an end-of-image marker"),
    "jpeg no frame": (b"\xff\xd8" + S.JPEG[S.JPEG.index(b"\xff\xc4") :], "scan before the frame header"),
    "jpeg segment past end": (S.JPEG[:25], "runs past the end"),
    "jpeg junk between segments": (S.JPEG[:20] + b"junk" + S.JPEG[20:], "expected a marker"),
    "jpeg hierarchical": (S.JPEG.replace(b"\xff\xc0", b"\xff\xc5", 1), "hierarchical"),
    "jpeg dnl height": (
        S.JPEG.replace(b"\xff\xc0\x00\x11\x08\x00\x20", b"\xff\xc0\x00\x11\x08\x00\x00", 1),
        "gives 48×0",
    ),
    "webp riff past end": (S.WEBP_LOSSY[:-10], "RIFF size runs past"),
    "webp unknown first": (S.webp_from([(b"ABCD", b"1234")]), "not VP8, VP8L or VP8X"),
    "webp no image": (S.webp_from([S.riff_chunks(S.WEBP_LOSSY)[0], (b"EXIF", b"x")]), "no image data"),
    "webp size mismatch": (
        S.webp_from([(b"VP8X", b"\x00" * 4 + b"\x10\x00\x00\x10\x00\x00"), *S.riff_chunks(S.WEBP_LOSSY)[1:]]),
        "differs from the canvas",
    ),
    "gif no trailer": (S.GIF[:-1], "ends before its trailer"),
    "gif no image": (S.GIF[: 13 + 12] + b"\x3b", "no image"),
    "gif bad block": (S.GIF[: 13 + 12] + b"\x99" + S.GIF[13 + 12 :], "unexpected block 0x99"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_files_are_refused_not_passed_through(name):
    data, message = MALFORMED[name]
    with pytest.raises(InvalidInput, match="not a well-formed") as refused:
        clean_image(data, LIMITS)
    if message:
        assert message in refused.value.message


@pytest.mark.parametrize(
    "data",
    [b"", b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"%PDF-1.7", b"\x89PNG but not", b"BM\x00\x00", b"II*\x00"],
)
def test_other_content_is_not_an_image_bastion_accepts(data):
    with pytest.raises(InvalidInput, match="PNG, JPEG, WebP or GIF"):
        clean_image(data, LIMITS)
