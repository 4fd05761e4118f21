"""PNG: a signature, then chunks (length, type, data, CRC) from IHDR to IEND.

Kept: the critical chunks (IHDR PLTE IDAT IEND), what colour and transparency need
(tRNS gAMA cHRM sRGB iCCP sBIT cICP mDCV cLLI bKGD pHYs) and APNG's animation
(acTL fcTL fdAT), each copied with its CRC; the orientation of an eXIf chunk,
rebuilt. Dropped: text (tEXt zTXt iTXt), eXIf, tIME, sPLT and every other
ancillary chunk, bytes after IEND. An unknown *critical* chunk (upper-case first
letter) is refused: a decoder would have to understand it.

Every CRC is checked, fixed-size chunks must have their size, IHDR must be first
and valid, IDAT chunks consecutive. The size check happens at IHDR, before any
other chunk is looked at; the message gives what the pixel data would inflate to.
"""

from __future__ import annotations

import struct
import zlib

from ._common import MAX_ICC_BYTES, ImageLimits, Malformed, check_size, exif_orientation, orientation_exif

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG = Malformed("PNG")
_PNG_KEEP = {
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
}
_PNG_FIXED = {
    b"gAMA": 4,
    b"cHRM": 32,
    b"sRGB": 1,
    b"cICP": 4,
    b"mDCV": 24,
    b"cLLI": 8,
    b"pHYs": 9,
    b"acTL": 8,
    b"fcTL": 26,
    b"IEND": 0,
}
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_PNG_SBIT = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}
_PNG_BKGD = {0: 2, 2: 6, 3: 1, 4: 2, 6: 6}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def pixel_data_bytes(width: int, height: int, bits_per_pixel: int, interlaced: bool) -> int:
    """How many bytes a PNG's IDAT stream inflates to, as its IHDR declares (rows of pixels plus a filter byte)."""

    def rows(w: int, h: int) -> int:
        return 0 if w <= 0 or h <= 0 else h * (1 + (w * bits_per_pixel + 7) // 8)

    if not interlaced:
        return rows(width, height)
    return sum(rows((width - x + dx - 1) // dx, (height - y + dy - 1) // dy) for x, y, dx, dy in _ADAM7)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def clean(c: bytes, limits: ImageLimits) -> tuple[int, int, bytes]:
    out = [SIGNATURE]
    pos, n = len(SIGNATURE), len(c)
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
                raise _PNG(
                    f"IHDR: colour type {color} with bit depth {depth}, compression {compression}, "
                    f"filter {filtering}, interlace {interlace} is not a valid combination",
                    pos,
                )
            inflated = pixel_data_bytes(width, height, depth * _PNG_CHANNELS[color], interlace == 1)
            check_size(width, height, limits, note=f" (its pixel data would inflate to {inflated:,} bytes)")
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
            _check_profile(data, pos)
        elif kind == b"fcTL":
            fw, fh, fx, fy = struct.unpack(">IIII", data[4:20])
            if fw == 0 or fh == 0 or fx + fw > width or fy + fh > height:
                raise _PNG(
                    f"an animation frame ({fw}×{fh} at {fx},{fy}) does not lie inside the {width}×{height} image", pos
                )
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


def _check_profile(data: bytes, pos: int) -> None:
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
