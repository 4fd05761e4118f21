"""GIF: header, logical screen, colour table, then blocks up to the trailer (0x3B).

Kept: image descriptors with their colour tables and LZW data, graphic control
extensions (timing, transparency), and the NETSCAPE2.0 / ANIMEXTS1.0 loop count
in its exact three-byte form. Dropped: comments, plain text, every other
application block (XMP, ICC, vendors'), bytes after the trailer. Each frame is
capped like the screen (a frame may be larger than the screen it is drawn on).
"""

from __future__ import annotations

import struct

from ._common import ImageLimits, Malformed, check_size

_GIF = Malformed("GIF")
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


def clean(c: bytes, limits: ImageLimits) -> tuple[int, int, bytes]:
    n = len(c)
    if n < 13:
        raise _GIF("too short")
    w, h, packed = struct.unpack("<HHB", c[6:11])
    if w == 0 or h == 0:
        raise _GIF(f"the screen is {w}×{h} pixels")
    check_size(w, h, limits)
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
            check_size(fw, fh, limits, what="a frame")
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
            elif (
                label == 0xFF
                and c[pos + 2] == 11
                and c[pos + 3 : pos + 14] in _GIF_LOOP_APPS
                and end == pos + 19
                and c[pos + 14] == 3
                and c[pos + 15] == 1
            ):
                out.append(c[pos:end])  # the loop count, nothing else
            # comments, plain text, other applications (XMP, ICC, vendors'): dropped
        else:
            raise _GIF(f"unexpected block 0x{block:02X}", pos)
        pos = end
    if not frames:
        raise _GIF("no image")
    return w, h, b"".join(out)
