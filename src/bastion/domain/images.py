"""Uploaded images, cleaned at the container level: what rendering needs is kept, metadata is not.

Concept. An image a client uploads is shown to annotators. Its pixels are the
task; everything else in the file is the client's metadata, and nobody who
labels the picture needs it: EXIF (camera, GPS position, times, the owner's
name), XMP, IPTC, comments, PNG text chunks and timestamps, thumbnails (an EXIF
thumbnail can show the picture as it was before it was cropped), vendors'
trailers after the image's end. ``clean_image`` takes the file apart into the
container's own units (PNG chunks, JPEG marker segments, the RIFF chunks of a
WebP, GIF blocks), keeps those on an allow-list of what decoding and faithful
display need, and writes them back. The compressed pixel data is copied byte
for byte, never decoded or re-encoded (an encoder such as Pillow would
re-encode, which for JPEG loses quality).

Kept (everything else is dropped)::

    PNG   IHDR PLTE IDAT IEND; tRNS gAMA cHRM sRGB iCCP sBIT cICP mDCV cLLI bKGD pHYs;
          APNG's acTL fcTL fdAT
    JPEG  SOI DQT DHT DAC DRI SOFn SOS (and its entropy-coded data) EOI; APP0 JFIF
          (without its thumbnail), APP2 ICC_PROFILE, APP14 Adobe (the colour transform)
    WebP  VP8X (its EXIF/XMP/ICC flags recomputed), ICCP, ANIM, ANMF (each frame
          rebuilt from its ALPH/VP8/VP8L), ALPH, VP8, VP8L
    GIF   header, screen descriptor, colour tables, graphic control, image data,
          the NETSCAPE2.0 / ANIMEXTS1.0 loop count

Rebuilt rather than copied: the EXIF orientation (phones store a photo sideways
and browsers turn it upright through that tag), written back as a fresh
26-byte EXIF block holding that one tag, and only when it is not the default;
the JFIF header, without its thumbnail. Colour profiles (ICC) are kept: without
them a wide-gamut photo shows wrong colours, and a profile describes a colour
space, not the picture (its text is the vendor's: "sRGB IEC61966-2.1").

Size. Width, height and pixel count are checked from the header before
anything else is done with the file (``ImageLimits``). That is also the bound on
decompression: a PNG's IDAT inflates to exactly what IHDR declares (a filter
byte per row, at most 8 bytes a pixel), so a 50,000² PNG whose IDAT is a 3.4 MB
zlib bomb is refused from its 13-byte IHDR and never inflated. Animation frames
must lie inside the canvas (PNG, WebP) or are capped alike (GIF frames). A PNG
colour profile, the one compressed block that is kept and not pixels, is
inflated with a bound (``MAX_ICC_BYTES``).

Strictness. A file that does not parse as its format (a chunk running past the
end, a bad CRC, an unknown critical chunk, a JPEG without image data, a GIF
without its trailer) is refused with a message that says what and at which
byte, never passed through: a parser that forwards what it does not understand
forwards metadata too. Bytes after the image's end (IEND, EOI, the RIFF size,
the GIF trailer) are dropped.

The trap: cleaning must be deterministic and idempotent. The keyed digest that
deduplicates uploads is taken over the cleaned bytes (the same picture with
other metadata is stored once), and files are cleaned again when they are
served, so cleaning a cleaned file must change nothing. Both are tested as
properties over mutated files. "Copied byte for byte" covers the compressed
pixels only: what a client puts *in* the pixels is the task itself.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from .errors import InvalidInput, PayloadTooLarge

MEDIA_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
MAX_ICC_BYTES = 4 * 1024 * 1024
NOT_AN_IMAGE = "not an image Bastion accepts (PNG, JPEG, WebP or GIF, recognised by content)"


@dataclass(frozen=True)
class ImageLimits:
    """Largest image accepted: pixels a side, and pixels in all (width × height)."""

    max_side_px: int = 20_000
    max_pixels: int = 100_000_000


@dataclass(frozen=True)
class CleanImage:
    media_type: str
    width: int
    height: int
    content: bytes  # the file without its metadata


def media_type_of(content: bytes) -> str:
    """The image format from the magic bytes (never a name or a declared type); InvalidInput otherwise."""
    if content.startswith(PNG_SIGNATURE):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    raise InvalidInput(NOT_AN_IMAGE)


def clean_image(content: bytes, limits: ImageLimits) -> CleanImage:
    """The image without its metadata, after checking its structure and its size (see the module docstring)."""
    media_type = media_type_of(content)
    clean = {"image/png": _clean_png, "image/jpeg": _clean_jpeg, "image/webp": _clean_webp,
             "image/gif": _clean_gif}[media_type]
    width, height, cleaned = clean(content, limits)
    return CleanImage(media_type, width, height, cleaned)


# -- shared -------------------------------------------------------------------------------------


class _Malformed:
    """Builds the InvalidInput for one format: 'not a well-formed PNG image: … at byte N'."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt

    def __call__(self, why: str, at: int | None = None) -> InvalidInput:
        where = f" (at byte {at})" if at is not None else ""
        return InvalidInput(f"not a well-formed {self.fmt} image: {why}{where}")


def _check_size(width: int, height: int, limits: ImageLimits, what: str = "the image", note: str = "") -> None:
    if width > limits.max_side_px or height > limits.max_side_px or width * height > limits.max_pixels:
        raise PayloadTooLarge(
            f"{what} is {width}×{height} pixels{note}; at most {limits.max_side_px:,} pixels a side and "
            f"{limits.max_pixels:,} pixels in all are accepted (settings max_image_side_px, max_image_pixels)"
        )


def exif_orientation(exif: bytes) -> int:
    """The Orientation tag (1–8) of an EXIF block (a TIFF header, with or without ``Exif\\0\\0``); 1 if absent.

    A block that does not parse gives 1: browsers ignore such a block too, so
    dropping it changes nothing on screen.
    """
    if exif.startswith(b"Exif\x00\x00"):
        exif = exif[6:]
    order = {b"II": "<", b"MM": ">"}.get(exif[:2])
    if order is None or len(exif) < 8 or struct.unpack(order + "H", exif[2:4])[0] != 42:
        return 1
    ifd = struct.unpack(order + "I", exif[4:8])[0]
    if ifd + 2 > len(exif):
        return 1
    (count,) = struct.unpack(order + "H", exif[ifd : ifd + 2])
    for i in range(count):
        entry = ifd + 2 + 12 * i
        if entry + 12 > len(exif):
            break
        tag, kind, n = struct.unpack(order + "HHI", exif[entry : entry + 8])
        if tag == 0x0112 and kind == 3 and n == 1:
            (value,) = struct.unpack(order + "H", exif[entry + 8 : entry + 10])
            return value if 1 <= value <= 8 else 1
    return 1


def orientation_exif(orientation: int) -> bytes:
    """A TIFF block holding one tag, the orientation (what PNG eXIf and WebP EXIF carry; JPEG adds Exif\\0\\0)."""
    return b"MM\x00\x2a\x00\x00\x00\x08\x00\x01" + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + b"\x00" * 4


# -- PNG ----------------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG = _Malformed("PNG")
_PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"cICP",
             b"mDCV", b"cLLI", b"bKGD", b"pHYs", b"acTL", b"fcTL", b"fdAT"}
_PNG_FIXED = {b"gAMA": 4, b"cHRM": 32, b"sRGB": 1, b"cICP": 4, b"mDCV": 24, b"cLLI": 8, b"pHYs": 9, b"acTL": 8,
              b"fcTL": 26, b"IEND": 0}
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_PNG_SBIT = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}
_PNG_BKGD = {0: 2, 2: 6, 3: 1, 4: 2, 6: 6}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def png_pixel_data_bytes(width: int, height: int, bits_per_pixel: int, interlaced: bool) -> int:
    """How many bytes a PNG's IDAT stream inflates to, as its IHDR declares (rows of pixels plus a filter byte)."""

    def rows(w: int, h: int) -> int:
        return 0 if w <= 0 or h <= 0 else h * (1 + (w * bits_per_pixel + 7) // 8)

    if not interlaced:
        return rows(width, height)
    return sum(rows((width - x + dx - 1) // dx, (height - y + dy - 1) // dy) for x, y, dx, dy in _ADAM7)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _clean_png(c: bytes, limits: ImageLimits) -> tuple[int, int, bytes]:
    out = [PNG_SIGNATURE]
    pos, n = len(PNG_SIGNATURE), len(c)
    width = height = color = 0
    palette_entries = -1
    seen: set[bytes] = set()
    last = b""
    orientation_done = False
    while True:
        if pos + 12 > n:
            raise _PNG("the file ends before its IEND chunk", pos)
        length, kind = struct.unpack(">I4s", c[pos : pos + 8])
        if not kind.isalpha() or not kind.isascii():
            raise _PNG(f"chunk type 0x{kind.hex()} is not four letters", pos)
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > n:
            raise _PNG(f"the {kind.decode()} chunk runs past the end of the file", pos)
        data = c[pos + 8 : pos + 8 + length]
        if zlib.crc32(kind + data) != struct.unpack(">I", c[end - 4 : end])[0]:
            raise _PNG(f"the {kind.decode()} chunk's CRC does not match", pos)
        name = kind.decode()
        if not seen and kind != b"IHDR":
            raise _PNG("the first chunk is not IHDR", pos)
        if kind in _PNG_FIXED and length != _PNG_FIXED[kind]:
            raise _PNG(f"the {name} chunk has {length} bytes, not {_PNG_FIXED[kind]}", pos)
        if kind in (b"IHDR", b"PLTE", b"acTL") and kind in seen:
            raise _PNG(f"a second {name} chunk", pos)
        if kind == b"IDAT" and b"IDAT" in seen and last != b"IDAT":
            raise _PNG("IDAT chunks are not consecutive", pos)
        if kind[0] & 0x20 == 0 and kind not in _PNG_KEEP:
            raise _PNG(f"unknown critical chunk {name}", pos)

        if kind == b"IHDR":
            if length != 13:
                raise _PNG("the IHDR chunk is not 13 bytes", pos)
            width, height, depth, color, compression, filtering, interlace = struct.unpack(">IIBBBBB", data)
            if not (0 < width <= 0x7FFFFFFF and 0 < height <= 0x7FFFFFFF):
                raise _PNG(f"width and height must be 1 to 2³¹-1, not {width}×{height}", pos)
            if depth not in _PNG_DEPTHS.get(color, ()) or compression or filtering or interlace > 1:
                raise _PNG(f"IHDR: colour type {color} with bit depth {depth}, compression {compression}, "
                           f"filter {filtering}, interlace {interlace} is not a valid combination", pos)
            inflated = png_pixel_data_bytes(width, height, depth * _PNG_CHANNELS[color], interlace == 1)
            _check_size(width, height, limits, note=f" (its pixel data would inflate to {inflated:,} bytes)")
        elif kind == b"PLTE":
            if b"IDAT" in seen or color in (0, 4) or length % 3 or not 3 <= length <= 768:
                raise _PNG("misplaced or malformed PLTE chunk", pos)
            palette_entries = length // 3
        elif kind == b"IDAT":
            if color == 3 and palette_entries < 0:
                raise _PNG("a palette image without a PLTE chunk before its IDAT", pos)
        elif kind == b"tRNS":
            allowed = {0: length == 2, 2: length == 6, 3: 0 < length <= max(palette_entries, 0)}.get(color, False)
            if not allowed:
                raise _PNG("tRNS does not fit the colour type", pos)
        elif kind == b"sBIT" and length != _PNG_SBIT[color]:
            raise _PNG("sBIT does not fit the colour type", pos)
        elif kind == b"bKGD" and length != _PNG_BKGD[color]:
            raise _PNG("bKGD does not fit the colour type", pos)
        elif kind == b"iCCP":
            _check_png_profile(data, pos)
        elif kind == b"fcTL":
            fw, fh, fx, fy = struct.unpack(">IIII", data[4:20])
            if fw == 0 or fh == 0 or fx + fw > width or fy + fh > height:
                raise _PNG(f"an animation frame ({fw}×{fh} at {fx},{fy}) does not lie inside the "
                           f"{width}×{height} image", pos)
        elif kind == b"eXIf" and not orientation_done:
            orientation_done = True
            orientation = exif_orientation(data)
            if orientation != 1:
                out.append(_png_chunk(b"eXIf", orientation_exif(orientation)))

        seen.add(kind)
        last = kind
        if kind in _PNG_KEEP:
            out.append(c[pos:end])
        pos = end
        if kind == b"IEND":
            break
    if b"IDAT" not in seen:
        raise _PNG("no IDAT chunk (no pixel data)")
    return width, height, b"".join(out)


def _check_png_profile(data: bytes, pos: int) -> None:
    nul = data.find(b"\x00", 0, 80)
    if nul < 1 or len(data) < nul + 2 or data[nul + 1] != 0:
        raise _PNG("malformed iCCP chunk", pos)
    inflater = zlib.decompressobj()
    try:
        inflater.decompress(data[nul + 2 :], MAX_ICC_BYTES)
    except zlib.error:
        raise _PNG("the colour profile (iCCP) does not inflate", pos) from None
    if not inflater.eof or inflater.unconsumed_tail:
        raise _PNG(f"the colour profile (iCCP) is truncated or inflates past {MAX_ICC_BYTES:,} bytes", pos)


# -- JPEG ---------------------------------------------------------------------------------------

_JPEG = _Malformed("JPEG")
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC9, 0xCA, 0xCB}  # baseline, extended, progressive, lossless; Huffman or arithmetic
_HIERARCHICAL = {0xC5, 0xC6, 0xC7, 0xCD, 0xCE, 0xCF, 0xDE, 0xDF}
_TABLES = {0xC4, 0xCC, 0xDB, 0xDD}  # DHT, DAC, DQT, DRI


def _clean_jpeg(c: bytes, limits: ImageLimits) -> tuple[int, int, bytes]:
    out = [b"\xff\xd8"]
    pos, n = 2, len(c)
    size: tuple[int, int] | None = None
    scans = 0
    orientation_done = False
    while True:
        if pos >= n or c[pos] != 0xFF:
            raise _JPEG("expected a marker" if pos < n else "the file ends before its end-of-image marker", pos)
        while pos < n and c[pos] == 0xFF:  # fill bytes may pad before a marker
            pos += 1
        if pos >= n:
            raise _JPEG("the file ends before its end-of-image marker", pos)
        marker, at = c[pos], pos - 1
        pos += 1
        if marker == 0xD9:
            if not scans:
                raise _JPEG("no image data (the end-of-image marker comes before any scan)", at)
            out.append(b"\xff\xd9")
            break
        if marker in _HIERARCHICAL:
            raise _JPEG(f"hierarchical JPEG (marker 0xFF{marker:02X}) is not accepted", at)
        if marker == 0xDC:
            raise _JPEG("a height given later by a DNL marker is not accepted", at)
        if not (marker in _SOF or marker in _TABLES or marker == 0xDA or marker == 0xFE or 0xE0 <= marker <= 0xEF):
            raise _JPEG(f"unexpected marker 0xFF{marker:02X}", at)
        if pos + 2 > n:
            raise _JPEG("a segment runs past the end of the file", at)
        length = int.from_bytes(c[pos : pos + 2], "big")
        if length < 2 or pos + length > n:
            raise _JPEG(f"the segment 0xFF{marker:02X} runs past the end of the file", at)
        payload = c[pos + 2 : pos + length]
        segment = b"\xff" + bytes([marker]) + c[pos : pos + length]
        pos += length

        if marker in _SOF:
            if size is not None:
                raise _JPEG("a second frame header", at)
            if len(payload) < 6 or len(payload) != 6 + 3 * payload[5] or not 1 <= payload[5] <= 4:
                raise _JPEG("malformed frame header", at)
            height, width = struct.unpack(">HH", payload[1:5])
            if width == 0 or height == 0:
                raise _JPEG(f"the frame header gives {width}×{height} pixels", at)
            _check_size(width, height, limits)
            size = (width, height)
            out.append(segment)
        elif marker == 0xDA:
            if size is None:
                raise _JPEG("a scan before the frame header", at)
            if not payload or not 1 <= payload[0] <= 4 or len(payload) != 4 + 2 * payload[0]:
                raise _JPEG("malformed scan header", at)
            data_end = _entropy_end(c, pos)
            out.append(segment)
            out.append(c[pos:data_end])
            pos = data_end
            scans += 1
        elif marker in _TABLES:
            out.append(segment)
        elif marker == 0xE0 and payload.startswith(b"JFIF\x00") and len(payload) >= 14:
            out.append(b"\xff\xe0\x00\x10" + payload[:12] + b"\x00\x00")  # no thumbnail
        elif marker == 0xE1 and payload.startswith(b"Exif\x00\x00") and not orientation_done:
            orientation_done = True
            orientation = exif_orientation(payload)
            if orientation != 1:
                block = b"Exif\x00\x00" + orientation_exif(orientation)
                out.append(b"\xff\xe1" + struct.pack(">H", len(block) + 2) + block)
        elif marker == 0xE2 and payload.startswith(b"ICC_PROFILE\x00"):
            out.append(segment)
        elif marker == 0xEE and payload.startswith(b"Adobe") and len(payload) >= 12:
            out.append(b"\xff\xee\x00\x0e" + payload[:12])
        # any other APPn (EXIF beyond its orientation, XMP, IPTC, MPF, …) and COM: dropped
    assert size is not None  # a scan needs a frame header
    return size[0], size[1], b"".join(out)


def _entropy_end(c: bytes, pos: int) -> int:
    """Where a scan's entropy-coded data ends: the next marker other than a stuffed 0xFF00 or a restart."""
    n = len(c)
    while True:
        i = c.find(b"\xff", pos)
        if i < 0 or i + 1 >= n:
            raise _JPEG("the image data runs to the end of the file without an end-of-image marker", pos)
        following = c[i + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:
            pos = i + 2
        elif following == 0xFF:
            pos = i + 1
        else:
            return i


# -- WebP ---------------------------------------------------------------------------------------

_WEBP = _Malformed("WebP")
_VP8X_ANIMATION, _VP8X_XMP, _VP8X_EXIF, _VP8X_ALPHA, _VP8X_ICC = 0x02, 0x04, 0x08, 0x10, 0x20


def _riff_chunks(c: bytes, pos: int, end: int) -> list[tuple[bytes, bytes, int]]:
    chunks = []
    while pos < end:
        if pos + 8 > end:
            raise _WEBP("a chunk header runs past the RIFF size", pos)
        kind = c[pos : pos + 4]
        (size,) = struct.unpack("<I", c[pos + 4 : pos + 8])
        stop = pos + 8 + size + (size & 1)
        if stop > end:
            raise _WEBP(f"the {_fourcc(kind)} chunk runs past the RIFF size", pos)
        chunks.append((kind, c[pos + 8 : pos + 8 + size], pos))
        pos = stop
    return chunks


def _fourcc(kind: bytes) -> str:
    return repr(kind.decode("ascii")) if kind.isascii() and kind.decode("ascii").isprintable() else f"0x{kind.hex()}"


def _riff_chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) & 1 else b"")


def _bitstream_size(kind: bytes, data: bytes, at: int) -> tuple[int, int]:
    if kind == b"VP8 ":
        if len(data) < 10 or data[0] & 1 or data[3:6] != b"\x9d\x01\x2a":
            raise _WEBP("the VP8 data does not start with a key frame", at)
        w, h = struct.unpack("<HH", data[6:10])
        w, h = w & 0x3FFF, h & 0x3FFF
    else:
        if len(data) < 5 or data[0] != 0x2F:
            raise _WEBP("the VP8L data lacks its signature", at)
        bits = int.from_bytes(data[1:5], "little")
        if bits >> 29:
            raise _WEBP("unknown VP8L version", at)
        w, h = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if w == 0 or h == 0:
        raise _WEBP("the bitstream gives zero pixels", at)
    return w, h


def _clean_webp(c: bytes, limits: ImageLimits) -> tuple[int, int, bytes]:
    if len(c) < 20:
        raise _WEBP("too short")
    (riff_size,) = struct.unpack("<I", c[4:8])
    if riff_size < 12 or 8 + riff_size > len(c):
        raise _WEBP("the RIFF size runs past the end of the file", 4)
    chunks = _riff_chunks(c, 12, 8 + riff_size)  # bytes past the RIFF size are dropped
    first, data, at = chunks[0]
    if first in (b"VP8 ", b"VP8L"):  # the simple format: one bitstream, nothing else is read
        w, h = _bitstream_size(first, data, at)
        _check_size(w, h, limits)
        kept = [_riff_chunk(first, data)]
    elif first == b"VP8X":
        w, h, kept = _clean_vp8x(data, chunks[1:], limits, at)
    else:
        raise _WEBP(f"the first chunk is {_fourcc(first)}, not VP8, VP8L or VP8X", at)
    body = b"WEBP" + b"".join(kept)
    return w, h, b"RIFF" + struct.pack("<I", len(body)) + body


def _clean_vp8x(header: bytes, chunks: list[tuple[bytes, bytes, int]], limits: ImageLimits,
                at: int) -> tuple[int, int, list[bytes]]:
    if len(header) != 10:
        raise _WEBP("the VP8X chunk is not 10 bytes", at)
    flags = header[0]
    w, h = int.from_bytes(header[4:7], "little") + 1, int.from_bytes(header[7:10], "little") + 1
    _check_size(w, h, limits)
    animated = bool(flags & _VP8X_ANIMATION)
    profile = anim = b""
    body: list[bytes] = []
    images = 0
    orientation = 1
    exif_seen = alpha_seen = False
    for kind, data, pos in chunks:
        if kind == b"ICCP" and not profile and not body:
            if not data or len(data) > MAX_ICC_BYTES:
                raise _WEBP("the colour profile is empty or too large", pos)
            profile = _riff_chunk(kind, data)
        elif kind == b"ANIM" and animated and not anim:
            if len(data) != 6:
                raise _WEBP("the ANIM chunk is not 6 bytes", pos)
            anim = _riff_chunk(kind, data)
        elif kind == b"ANMF":
            if not animated:
                raise _WEBP("an animation frame in a still image", pos)
            body.append(_riff_chunk(kind, _clean_frame(data, w, h, pos)))
            images += 1
        elif kind == b"ALPH" and not animated and not images and not alpha_seen:
            alpha_seen = True
            body.append(_riff_chunk(kind, data))
        elif kind in (b"VP8 ", b"VP8L") and not animated:
            if images:
                raise _WEBP("a second bitstream in a still image", pos)
            if _bitstream_size(kind, data, pos) != (w, h):
                raise _WEBP("the bitstream's size differs from the canvas", pos)
            body.append(_riff_chunk(kind, data))
            images += 1
        elif kind == b"EXIF" and not exif_seen:
            exif_seen = True
            orientation = exif_orientation(data)
        # XMP, unknown chunks, repeats: dropped
    if not images:
        raise _WEBP("no image data")
    if animated and not anim:
        raise _WEBP("an animation without its ANIM chunk")
    new_flags = (flags & (_VP8X_ALPHA | _VP8X_ANIMATION)) | (_VP8X_ICC if profile else 0)
    tail = []
    if orientation != 1:
        new_flags |= _VP8X_EXIF
        tail.append(_riff_chunk(b"EXIF", orientation_exif(orientation)))
    vp8x = _riff_chunk(b"VP8X", bytes([new_flags]) + b"\x00\x00\x00" + header[4:10])
    return w, h, [vp8x, profile, anim, *body, *tail]


def _clean_frame(data: bytes, canvas_w: int, canvas_h: int, at: int) -> bytes:
    if len(data) < 16:
        raise _WEBP("an animation frame header is too short", at)
    x, y = int.from_bytes(data[0:3], "little") * 2, int.from_bytes(data[3:6], "little") * 2
    fw, fh = int.from_bytes(data[6:9], "little") + 1, int.from_bytes(data[9:12], "little") + 1
    if x + fw > canvas_w or y + fh > canvas_h:
        raise _WEBP(f"an animation frame ({fw}×{fh} at {x},{y}) does not lie inside the canvas", at)
    kept, image = [], False
    for kind, sub, _ in _riff_chunks(data, 16, len(data)):
        if kind == b"ALPH" and not image:
            kept.append(_riff_chunk(kind, sub))
        elif kind in (b"VP8 ", b"VP8L") and not image:
            if _bitstream_size(kind, sub, at) != (fw, fh):
                raise _WEBP("a frame's bitstream size differs from its header", at)
            kept.append(_riff_chunk(kind, sub))
            image = True
    if not image:
        raise _WEBP("an animation frame without image data", at)
    return data[:16] + b"".join(kept)


# -- GIF ----------------------------------------------------------------------------------------

_GIF = _Malformed("GIF")
_GIF_LOOP_APPS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")


def _sub_blocks_end(c: bytes, pos: int) -> int:
    n = len(c)
    while True:
        if pos >= n:
            raise _GIF("data sub-blocks run past the end of the file", pos)
        size = c[pos]
        pos += 1 + size
        if size == 0:
            return pos
        if pos > n:
            raise _GIF("a data sub-block runs past the end of the file", pos)


def _clean_gif(c: bytes, limits: ImageLimits) -> tuple[int, int, bytes]:
    n = len(c)
    if n < 13:
        raise _GIF("too short")
    w, h, packed = struct.unpack("<HHB", c[6:11])
    if w == 0 or h == 0:
        raise _GIF(f"the screen is {w}×{h} pixels")
    _check_size(w, h, limits)
    pos = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
    if pos > n:
        raise _GIF("the colour table runs past the end of the file", 13)
    out = [c[:pos]]
    frames = 0
    while True:
        if pos >= n:
            raise _GIF("the file ends before its trailer", pos)
        block = c[pos]
        if block == 0x3B:
            out.append(b"\x3b")
            break
        if block == 0x2C:
            if pos + 10 > n:
                raise _GIF("an image descriptor runs past the end of the file", pos)
            fw, fh, fpacked = struct.unpack("<HHB", c[pos + 5 : pos + 10])
            _check_size(fw, fh, limits, what="a frame")
            data = pos + 10 + (3 << ((fpacked & 7) + 1) if fpacked & 0x80 else 0)
            if data >= n or not 1 <= c[data] <= 11:
                raise _GIF("missing or invalid LZW code size", data)
            end = _sub_blocks_end(c, data + 1)
            out.append(c[pos:end])
            frames += 1
        elif block == 0x21:
            if pos + 2 > n:
                raise _GIF("an extension runs past the end of the file", pos)
            label = c[pos + 1]
            end = _sub_blocks_end(c, pos + 2)
            if label == 0xF9:
                if end != pos + 8 or c[pos + 2] != 4:
                    raise _GIF("malformed graphic control extension", pos)
                out.append(c[pos:end])
            elif (label == 0xFF and c[pos + 2] == 11 and c[pos + 3 : pos + 14] in _GIF_LOOP_APPS
                  and end == pos + 19 and c[pos + 14] == 3 and c[pos + 15] == 1):
                out.append(c[pos:end])  # the loop count, nothing else
            # comments, plain text, other applications (XMP, ICC, vendors'): dropped
        else:
            raise _GIF(f"unexpected block 0x{block:02X}", pos)
        pos = end
    if not frames:
        raise _GIF("no image")
    return w, h, b"".join(out)
