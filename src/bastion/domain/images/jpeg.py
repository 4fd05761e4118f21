"""JPEG: SOI, marker segments, scans of entropy-coded data, EOI.

Kept: the tables (DQT DHT DAC DRI), one frame header (baseline, extended,
progressive or lossless; Huffman or arithmetic), the scans with their data
copied byte for byte, APP0 JFIF without its thumbnail, APP2 ICC_PROFILE, APP14
Adobe (the colour transform a CMYK or YCCK decoder needs); the orientation of
the first APP1 EXIF, rebuilt. Dropped: every other APPn (EXIF, XMP, IPTC, MPF,
JFXX, C2PA/JUMBF, vendors'), COM, bytes after EOI (phones append trailers
there). Refused: hierarchical JPEG, a height left to a DNL marker, a scan before
the frame header, no scan at all, unknown markers.

The trap: a scan's data ends at the first 0xFF that is not a stuffed 0xFF00 or
a restart marker (0xFFD0–D7); scanning for it with ``bytes.find`` keeps a
20 MB file at a few milliseconds.
"""

from __future__ import annotations

import struct

from ._common import ImageLimits, Malformed, check_size, exif_orientation, orientation_exif

_JPEG = Malformed("JPEG")
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC9, 0xCA, 0xCB}  # baseline, extended, progressive, lossless; Huffman or arithmetic
_HIERARCHICAL = {0xC5, 0xC6, 0xC7, 0xCD, 0xCE, 0xCF, 0xDE, 0xDF}
_TABLES = {0xC4, 0xCC, 0xDB, 0xDD}  # DHT, DAC, DQT, DRI


def clean(c: bytes, limits: ImageLimits) -> tuple[int, int, bytes]:
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
            check_size(width, height, limits)
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
