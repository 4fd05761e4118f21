"""WebP: a RIFF container ("RIFF", size, "WEBP") of chunks, each padded to an even length.

The simple formats are one VP8 (lossy) or VP8L (lossless) chunk, and nothing
else is read. The extended format starts with VP8X (flags and canvas size); kept
are ICCP, ANIM, ANMF frames (each rebuilt from its ALPH and VP8/VP8L, unknown
chunks inside dropped), ALPH and the bitstream; the orientation of an EXIF
chunk, rebuilt. Dropped: EXIF, XMP, unknown chunks, bytes past the RIFF size.
VP8X's flags are recomputed from what is kept (ICC, EXIF; XMP never), and the
RIFF size from the chunks written.

Refused: a canvas and a still bitstream of different sizes, frames outside the
canvas, a frame whose bitstream disagrees with its header, no image data.
"""

from __future__ import annotations

import struct

from ._common import MAX_ICC_BYTES, ImageLimits, Malformed, check_size, exif_orientation, orientation_exif

_WEBP = Malformed("WebP")
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


def clean(c: bytes, limits: ImageLimits) -> tuple[int, int, bytes]:
    if len(c) < 20:
        raise _WEBP("too short")
    (riff_size,) = struct.unpack("<I", c[4:8])
    if riff_size < 12 or 8 + riff_size > len(c):
        raise _WEBP("the RIFF size runs past the end of the file", 4)
    chunks = _riff_chunks(c, 12, 8 + riff_size)  # bytes past the RIFF size are dropped
    first, data, at = chunks[0]
    if first in (b"VP8 ", b"VP8L"):  # the simple format: one bitstream, nothing else is read
        w, h = _bitstream_size(first, data, at)
        check_size(w, h, limits)
        kept = [_riff_chunk(first, data)]
    elif first == b"VP8X":
        w, h, kept = _clean_vp8x(data, chunks[1:], limits, at)
    else:
        raise _WEBP(f"the first chunk is {_fourcc(first)}, not VP8, VP8L or VP8X", at)
    body = b"WEBP" + b"".join(kept)
    return w, h, b"RIFF" + struct.pack("<I", len(body)) + body


def _clean_vp8x(
    header: bytes, chunks: list[tuple[bytes, bytes, int]], limits: ImageLimits, at: int
) -> tuple[int, int, list[bytes]]:
    if len(header) != 10:
        raise _WEBP("the VP8X chunk is not 10 bytes", at)
    flags = header[0]
    w, h = int.from_bytes(header[4:7], "little") + 1, int.from_bytes(header[7:10], "little") + 1
    check_size(w, h, limits)
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
