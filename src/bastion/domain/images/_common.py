"""What the format modules share: the limits, the result, the refusal messages, the EXIF orientation."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import InvalidInput, PayloadTooLarge

MAX_ICC_BYTES = 4 * 1024 * 1024  # a colour profile is a few KiB; printer profiles reach about 1 MiB


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


class Malformed:
    """Builds the InvalidInput for one format: 'not a well-formed PNG image: … at byte N'."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt

    def __call__(self, why: str, at: int | None = None) -> InvalidInput:
        where = f" (at byte {at})" if at is not None else ""
        return InvalidInput(f"not a well-formed {self.fmt} image: {why}{where}")


def check_size(width: int, height: int, limits: ImageLimits, what: str = "the image", note: str = "") -> None:
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
