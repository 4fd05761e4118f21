"""Generate the synthetic scenes used by the image-annotation demo.

Run from anywhere::

    python src/bastion/demo/data/make_images.py

It writes ``images/*.png`` and ``image.jsonl`` next to this file. Only the
standard library is used: pixels are drawn into a palette-indexed buffer and
encoded as an 8-bit indexed PNG with ``zlib`` and ``struct``. Every object's
bounding box is measured from the pixels actually painted for it, so the
pre-annotations in ``image.jsonl`` line up exactly with the drawings.

The output is deterministic: running the script twice produces identical files.
"""

from __future__ import annotations

import json
import math
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

WIDTH = 320
HEIGHT = 240
HERE = Path(__file__).resolve().parent
IMAGE_DIR = HERE / "images"
JSONL_PATH = HERE / "image.jsonl"

RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (inclusive)


# --------------------------------------------------------------------------- #
# PNG encoding
# --------------------------------------------------------------------------- #
def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def encode_png(width: int, height: int, palette: list[RGB], pixels: bytearray) -> bytes:
    """Encode palette indices (one byte per pixel, row-major) as an indexed PNG."""
    if len(palette) > 256:
        raise ValueError("a PNG palette holds at most 256 colours")
    raw = bytearray()
    for y in range(height):
        raw.append(0)  # filter type: none
        raw += pixels[y * width : (y + 1) * width]
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    plte = b"".join(struct.pack("BBB", *rgb) for rgb in palette)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"PLTE", plte)
        + _chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + _chunk(b"IEND", b"")
    )


# --------------------------------------------------------------------------- #
# Canvas with palette and per-object extent tracking
# --------------------------------------------------------------------------- #
class Canvas:
    def __init__(self, width: int = WIDTH, height: int = HEIGHT) -> None:
        self.width = width
        self.height = height
        self.palette: list[RGB] = []
        self._index: dict[RGB, int] = {}
        self.pixels = bytearray(width * height)
        self._extent: list[int] | None = None

    def colour(self, rgb: RGB) -> int:
        if rgb not in self._index:
            self._index[rgb] = len(self.palette)
            self.palette.append(rgb)
        return self._index[rgb]

    # extent tracking -------------------------------------------------------
    def begin_object(self) -> None:
        self._extent = [self.width, self.height, -1, -1]

    def end_object(self) -> Box:
        ext = self._extent
        self._extent = None
        if ext is None or ext[2] < 0:
            raise RuntimeError("object painted no pixels")
        return ext[0], ext[1], ext[2], ext[3]

    def _span(self, y: int, x0: int, x1: int, idx: int) -> None:
        if y < 0 or y >= self.height:
            return
        x0 = max(x0, 0)
        x1 = min(x1, self.width - 1)
        if x0 > x1:
            return
        row = y * self.width
        self.pixels[row + x0 : row + x1 + 1] = bytes([idx]) * (x1 - x0 + 1)
        ext = self._extent
        if ext is not None:
            ext[0] = min(ext[0], x0)
            ext[1] = min(ext[1], y)
            ext[2] = max(ext[2], x1)
            ext[3] = max(ext[3], y)

    # primitives ------------------------------------------------------------
    def rect(self, x: int, y: int, w: int, h: int, rgb: RGB) -> None:
        idx = self.colour(rgb)
        for yy in range(y, y + h):
            self._span(yy, x, x + w - 1, idx)

    def circle(self, cx: int, cy: int, r: int, rgb: RGB) -> None:
        idx = self.colour(rgb)
        for dy in range(-r, r + 1):
            half = int(math.sqrt(r * r - dy * dy) + 0.5)
            self._span(cy + dy, cx - half, cx + half, idx)

    def polygon(self, points: Sequence[tuple[float, float]], rgb: RGB) -> None:
        """Even-odd scanline fill, sampling each row at its vertical centre."""
        idx = self.colour(rgb)
        ys = [p[1] for p in points]
        n = len(points)
        for y in range(int(math.floor(min(ys))), int(math.ceil(max(ys))) + 1):
            sy = y + 0.5
            xs: list[float] = []
            for i in range(n):
                ax, ay = points[i]
                bx, by = points[(i + 1) % n]
                if (ay <= sy < by) or (by <= sy < ay):
                    xs.append(ax + (sy - ay) * (bx - ax) / (by - ay))
            xs.sort()
            for a, b in zip(xs[0::2], xs[1::2]):
                x0 = int(math.ceil(a - 0.5))
                x1 = int(math.floor(b - 0.5))
                if x0 <= x1:
                    self._span(y, x0, x1, idx)

    def regular_polygon(self, cx: float, cy: float, r: float, sides: int, rgb: RGB, rotation: float = 0.0) -> None:
        pts = [
            (
                cx + r * math.cos(rotation + 2 * math.pi * i / sides),
                cy + r * math.sin(rotation + 2 * math.pi * i / sides),
            )
            for i in range(sides)
        ]
        self.polygon(pts, rgb)

    def vertical_gradient(self, y0: int, y1: int, top: RGB, bottom: RGB, bands: int) -> None:
        """Fill rows y0..y1-1 with ``bands`` flat steps from ``top`` to ``bottom``."""
        height = y1 - y0
        for b in range(bands):
            t = b / max(bands - 1, 1)
            rgb = tuple(round(top[i] + (bottom[i] - top[i]) * t) for i in range(3))
            start = y0 + height * b // bands
            end = y0 + height * (b + 1) // bands
            self.rect(0, start, self.width, end - start, rgb)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- #
# Backgrounds
# --------------------------------------------------------------------------- #
GRASS = (104, 163, 84)
ROAD = (92, 94, 99)


def bg_plain(c: Canvas, rgb: RGB) -> int:
    c.rect(0, 0, c.width, c.height, rgb)
    return c.height


def bg_meadow(c: Canvas, horizon: int = 160) -> int:
    c.vertical_gradient(0, horizon, (122, 178, 232), (205, 228, 246), 12)
    c.rect(0, horizon, c.width, c.height - horizon, GRASS)
    return horizon


def bg_street(c: Canvas, horizon: int = 150) -> int:
    c.vertical_gradient(0, horizon, (140, 190, 235), (214, 232, 245), 10)
    c.rect(0, horizon, c.width, 14, (176, 176, 170))  # pavement
    c.rect(0, horizon + 14, c.width, c.height - horizon - 14, ROAD)
    for x in range(8, c.width, 56):
        c.rect(x, horizon + 50, 30, 4, (236, 236, 228))
    return horizon


def bg_dusk(c: Canvas, horizon: int = 165) -> int:
    c.vertical_gradient(0, horizon, (74, 62, 128), (246, 166, 96), 14)
    c.rect(0, horizon, c.width, c.height - horizon, (72, 96, 62))
    return horizon


def bg_snow(c: Canvas, horizon: int = 155) -> int:
    c.vertical_gradient(0, horizon, (178, 196, 214), (226, 232, 238), 8)
    c.rect(0, horizon, c.width, c.height - horizon, (246, 248, 250))
    return horizon


def bg_overcast(c: Canvas, horizon: int = 150) -> int:
    c.vertical_gradient(0, horizon, (150, 156, 164), (200, 204, 208), 6)
    c.rect(0, horizon, c.width, c.height - horizon, (128, 150, 96))
    return horizon


# --------------------------------------------------------------------------- #
# Objects. Each takes the ground-contact point (x = left edge, y = baseline)
# and returns the bounding box of what it painted.
# --------------------------------------------------------------------------- #
def draw_car(c: Canvas, x: int, base: int, length: int, body: RGB, facing: int = 1) -> Box:
    c.begin_object()
    h = length * 2 // 5
    wheel_r = max(length // 9, 4)
    body_top = base - wheel_r - h // 2
    body_h = h // 2
    # cabin: a trapezoid, leaning towards the direction of travel
    cab_l = x + length * 22 // 100
    cab_r = x + length * 72 // 100
    cab_top = body_top - h * 45 // 100
    lean = length // 10
    if facing > 0:
        cabin = [(cab_l, body_top), (cab_l + lean // 2, cab_top), (cab_r - lean, cab_top), (cab_r, body_top)]
    else:
        cabin = [(cab_l, body_top), (cab_l + lean, cab_top), (cab_r - lean // 2, cab_top), (cab_r, body_top)]
    c.polygon(cabin, body)
    glass = (184, 214, 232)
    inset = max(length // 40, 2)
    mid = (cab_l + cab_r) // 2
    c.polygon(
        [
            (cab_l + inset + lean // 2, body_top),
            (cab_l + inset + lean // 2 + 2, cab_top + inset),
            (mid - 1, cab_top + inset),
            (mid - 1, body_top),
        ],
        glass,
    )
    c.polygon(
        [
            (mid + 2, body_top),
            (mid + 2, cab_top + inset),
            (cab_r - inset - lean // 2 - 2, cab_top + inset),
            (cab_r - inset - lean // 2, body_top),
        ],
        glass,
    )
    c.rect(x, body_top, length, body_h, body)
    # lights
    light_w = max(length // 25, 2)
    front = x + length - light_w if facing > 0 else x
    rear = x if facing > 0 else x + length - light_w
    c.rect(front, body_top + 3, light_w, max(body_h // 4, 2), (250, 232, 140))
    c.rect(rear, body_top + 3, light_w, max(body_h // 4, 2), (200, 40, 40))
    for wx in (x + length * 22 // 100, x + length * 78 // 100):
        c.circle(wx, base - wheel_r, wheel_r, (34, 34, 38))
        c.circle(wx, base - wheel_r, max(wheel_r // 2, 2), (170, 170, 176))
    return c.end_object()


def draw_house(c: Canvas, x: int, base: int, width: int, wall: RGB, roof: RGB, chimney: bool = True) -> Box:
    c.begin_object()
    wall_h = width * 3 // 5
    top = base - wall_h
    roof_h = width * 2 // 5
    overhang = max(width // 12, 3)
    if chimney:
        c.rect(x + width * 68 // 100, top - roof_h * 3 // 4, width // 10, roof_h * 3 // 5, (140, 70, 56))
    c.polygon([(x - overhang, top), (x + width / 2, top - roof_h), (x + width + overhang, top)], roof)
    c.rect(x, top, width, wall_h, wall)
    door_w = width // 6
    door_h = wall_h * 11 // 20
    c.rect(x + width // 2 - door_w // 2, base - door_h, door_w, door_h, (96, 62, 40))
    win = width // 6
    for wx in (x + width // 8, x + width - width // 8 - win):
        c.rect(wx, top + wall_h // 5, win, win, (250, 240, 196))
        c.rect(wx + win // 2, top + wall_h // 5, 1, win, (120, 110, 90))
    return c.end_object()


def draw_round_tree(c: Canvas, x: int, base: int, height: int, leaves: RGB) -> Box:
    c.begin_object()
    trunk_w = max(height // 9, 3)
    crown_r = height * 3 // 10
    cx = x + crown_r
    c.rect(cx - trunk_w // 2, base - height * 45 // 100, trunk_w, height * 45 // 100, (110, 78, 48))
    cy = base - height + crown_r
    c.circle(cx, cy, crown_r, leaves)
    darker = tuple(max(v - 28, 0) for v in leaves)
    c.circle(cx - crown_r // 2, cy + crown_r // 3, crown_r * 2 // 3, darker)  # type: ignore[arg-type]
    c.circle(cx + crown_r // 3, cy - crown_r // 4, crown_r // 2, leaves)
    return c.end_object()


def draw_pine(c: Canvas, x: int, base: int, height: int, leaves: RGB) -> Box:
    c.begin_object()
    half = height * 3 // 10
    cx = x + half
    trunk_h = height // 8
    c.rect(cx - max(height // 20, 2), base - trunk_h, max(height // 10, 4), trunk_h, (100, 70, 44))
    tiers = 3
    for i in range(tiers):
        w = half * (tiers - i) // tiers + half // 3
        bottom = base - trunk_h - i * (height - trunk_h) // (tiers + 1)
        top = bottom - (height - trunk_h) // 2
        if i == tiers - 1:
            top = base - height
        c.polygon([(cx - w, bottom), (cx + 0.5, top), (cx + w + 1, bottom)], leaves)
    return c.end_object()


def draw_sign(c: Canvas, x: int, base: int, size: int, kind: str) -> Box:
    """Road-sign style shape on a pole; ``x`` is the left edge of the plate."""
    c.begin_object()
    r = size // 2
    cx = x + r
    pole_h = size * 3 // 2
    cy = base - pole_h - r
    c.rect(cx - 2, cy, 4, base - cy, (120, 124, 130))
    if kind == "stop":
        c.regular_polygon(cx, cy, r, 8, (250, 250, 250), math.pi / 8)
        c.regular_polygon(cx, cy, r - 2, 8, (196, 32, 36), math.pi / 8)
        c.rect(cx - r // 2, cy - 2, r, 5, (250, 250, 250))
    elif kind == "yield":
        pts = [(cx - r, cy - r * 0.8), (cx + r, cy - r * 0.8), (cx, cy + r * 0.9)]
        c.polygon(pts, (196, 32, 36))
        inner = [(cx - r * 0.62, cy - r * 0.58), (cx + r * 0.62, cy - r * 0.58), (cx, cy + r * 0.45)]
        c.polygon(inner, (250, 250, 250))
    elif kind == "limit":
        c.circle(cx, cy, r, (196, 32, 36))
        c.circle(cx, cy, r * 3 // 4, (250, 250, 250))
        digit_h = r
        digit_w = max(r * 2 // 5, 5)
        gap = max(r // 8, 2)
        left = cx - digit_w - gap // 2
        draw_digits(c, left, cy - digit_h // 2, digit_w, digit_h, "30", gap, (30, 30, 30))
    elif kind == "warning":
        c.regular_polygon(cx, cy, r, 4, (30, 30, 30))
        c.regular_polygon(cx, cy, r - 3, 4, (246, 196, 40))
        c.rect(cx - 1, cy - r // 3, 3, r // 2, (30, 30, 30))
        c.rect(cx - 1, cy + r // 4, 3, 3, (30, 30, 30))
    elif kind == "info":
        c.rect(x, cy - r * 2 // 3, size, r * 4 // 3, (36, 86, 170))
        c.rect(x + 3, cy - r * 2 // 3 + 3, size - 6, r * 4 // 3 - 6, (250, 250, 250))
        c.rect(x + 6, cy - r * 2 // 3 + 6, size - 12, r * 4 // 3 - 12, (36, 86, 170))
    else:
        raise ValueError(kind)
    return c.end_object()


SEGMENTS = {
    "0": "abcdef",
    "1": "bc",
    "2": "abdeg",
    "3": "abcdg",
    "4": "bcfg",
    "5": "acdfg",
    "6": "acdefg",
    "7": "abc",
    "8": "abcdefg",
    "9": "abcdfg",
}


def draw_digits(c: Canvas, x: int, y: int, w: int, h: int, text: str, gap: int, rgb: RGB) -> None:
    """Seven-segment style digits, each ``w`` by ``h`` pixels."""
    t = max(w // 4, 1)
    half = h // 2
    for ch in text:
        segs = SEGMENTS[ch]
        if "a" in segs:
            c.rect(x, y, w, t, rgb)
        if "b" in segs:
            c.rect(x + w - t, y, t, half + t // 2, rgb)
        if "c" in segs:
            c.rect(x + w - t, y + half, t, h - half, rgb)
        if "d" in segs:
            c.rect(x, y + h - t, w, t, rgb)
        if "e" in segs:
            c.rect(x, y + half, t, h - half, rgb)
        if "f" in segs:
            c.rect(x, y, t, half + t // 2, rgb)
        if "g" in segs:
            c.rect(x, y + half - t // 2, w, t, rgb)
        x += w + gap


def draw_sun(c: Canvas, cx: int, cy: int, r: int) -> None:
    c.circle(cx, cy, r, (252, 214, 92))


def draw_cloud(c: Canvas, x: int, y: int, s: int) -> None:
    white = (248, 250, 252)
    c.circle(x, y, s, white)
    c.circle(x + s, y - s // 2, s + s // 4, white)
    c.circle(x + 2 * s, y, s, white)
    c.rect(x, y, 2 * s, s, white)


# --------------------------------------------------------------------------- #
# Scenes
# --------------------------------------------------------------------------- #
RED = (200, 52, 48)
BLUE = (52, 98, 176)
YELLOW = (232, 184, 44)
SILVER = (172, 178, 186)
GREEN_CAR = (58, 128, 92)
BLACK_CAR = (46, 48, 56)
ORANGE = (226, 120, 40)
TEAL = (40, 150, 158)
LEAF = (62, 138, 62)
LEAF_LIGHT = (96, 170, 72)
AUTUMN = (214, 112, 40)
GOLD = (222, 170, 52)
PINE = (34, 96, 60)


def scene_01(c: Canvas) -> list[tuple[str, Box]]:
    base = bg_street(c) + 60
    draw_cloud(c, 40, 40, 14)
    return [("car", draw_car(c, 100, base, 120, RED))]


def scene_02(c: Canvas) -> list[tuple[str, Box]]:
    h = bg_meadow(c)
    draw_sun(c, 268, 44, 20)
    return [("house", draw_house(c, 110, h + 40, 110, (236, 220, 190), (150, 60, 50)))]


def scene_03(c: Canvas) -> list[tuple[str, Box]]:
    h = bg_meadow(c, 170)
    return [
        ("tree", draw_round_tree(c, 40, h + 30, 110, LEAF)),
        ("tree", draw_pine(c, 190, h + 40, 130, PINE)),
    ]


def scene_04(c: Canvas) -> list[tuple[str, Box]]:
    bg_plain(c, (238, 234, 226))
    return [("sign", draw_sign(c, 130, 220, 60, "stop"))]


def scene_05(c: Canvas) -> list[tuple[str, Box]]:
    h = bg_street(c)
    draw_cloud(c, 210, 36, 16)
    return [
        ("sign", draw_sign(c, 24, h + 12, 40, "limit")),
        ("car", draw_car(c, 90, h + 66, 100, BLUE)),
        ("car", draw_car(c, 206, h + 84, 96, SILVER, facing=-1)),
    ]


def scene_06(c: Canvas) -> list[tuple[str, Box]]:
    h = bg_dusk(c)
    return [
        ("house", draw_house(c, 40, h + 36, 90, (214, 196, 170), (90, 60, 80))),
        ("house", draw_house(c, 180, h + 30, 80, (190, 206, 214), (70, 70, 96), chimney=False)),
        ("tree", draw_round_tree(c, 132, h + 34, 70, (54, 96, 60))),
    ]


def scene_07(c: Canvas) -> list[tuple[str, Box]]:
    h = bg_snow(c)
    return [
        ("tree", draw_pine(c, 30, h + 44, 120, PINE)),
        ("tree", draw_pine(c, 120, h + 30, 90, (44, 110, 70))),
        ("house", draw_house(c, 200, h + 50, 90, (168, 70, 60), (82, 82, 90))),
    ]


def scene_08(c: Canvas) -> list[tuple[str, Box]]:
    bg_plain(c, (226, 236, 244))
    return [("car", draw_car(c, 60, 190, 200, GREEN_CAR, facing=-1))]


def scene_09(c: Canvas) -> list[tuple[str, Box]]:
    h = bg_overcast(c)
    return [
        ("sign", draw_sign(c, 240, h + 40, 50, "warning")),
        ("tree", draw_round_tree(c, 30, h + 50, 130, AUTUMN)),
    ]


def scene_10(c: Canvas) -> list[tuple[str, Box]]:
    h = bg_street(c, 140)
    return [
        ("house", draw_house(c, 20, h, 100, (242, 232, 214), (60, 90, 140))),
        ("car", draw_car(c, 150, h + 74, 130, YELLOW)),
    ]


def scene_11(c: Canvas) -> list[tuple[str, Box]]:
    bg_plain(c, (246, 240, 228))
    return [("tree", draw_round_tree(c, 100, 224, 200, LEAF_LIGHT))]


def scene_12(c: Canvas) -> list[tuple[str, Box]]:
    h = bg_meadow(c, 150)
    draw_cloud(c, 60, 50, 18)
    draw_cloud(c, 200, 30, 12)
    return [
        ("sign", draw_sign(c, 36, h + 30, 44, "yield")),
        ("sign", draw_sign(c, 250, h + 20, 40, "info")),
    ]


def scene_13(c: Canvas) -> list[tuple[str, Box]]:
    h = bg_street(c)
    return [
        ("car", draw_car(c, 10, h + 60, 90, BLACK_CAR)),
        ("car", draw_car(c, 115, h + 60, 90, ORANGE)),
        ("car", draw_car(c, 220, h + 60, 90, TEAL)),
        ("tree", draw_round_tree(c, 250, h + 2, 80, LEAF)),
    ]


def scene_14(c: Canvas) -> list[tuple[str, Box]]:
    h = bg_dusk(c, 175)
    return [("sign", draw_sign(c, 150, h + 40, 56, "stop")), ("tree", draw_pine(c, 40, h + 30, 140, (30, 70, 52)))]


def scene_15(c: Canvas) -> list[tuple[str, Box]]:
    h = bg_meadow(c)
    return [
        ("house", draw_house(c, 30, h + 30, 70, (250, 226, 210), (190, 80, 70))),
        ("house", draw_house(c, 125, h + 36, 80, (214, 232, 214), (80, 120, 80))),
        ("house", draw_house(c, 228, h + 30, 70, (230, 222, 250), (110, 90, 150), chimney=False)),
    ]


def scene_16(c: Canvas) -> list[tuple[str, Box]]:
    c.vertical_gradient(0, c.height, (250, 236, 210), (238, 200, 170), 10)
    return [("sign", draw_sign(c, 60, 230, 70, "limit")), ("sign", draw_sign(c, 200, 230, 66, "warning"))]


def scene_17(c: Canvas) -> list[tuple[str, Box]]:
    h = bg_snow(c, 165)
    return [("car", draw_car(c, 80, h + 50, 150, (150, 40, 60))), ("tree", draw_pine(c, 250, h + 20, 100, PINE))]


def scene_18(c: Canvas) -> list[tuple[str, Box]]:
    h = bg_overcast(c, 160)
    return [("house", draw_house(c, 70, h + 60, 170, (200, 190, 176), (96, 70, 60)))]


def scene_19(c: Canvas) -> list[tuple[str, Box]]:
    h = bg_meadow(c, 140)
    draw_sun(c, 50, 40, 24)
    return [
        ("tree", draw_round_tree(c, 20, h + 60, 120, GOLD)),
        ("tree", draw_round_tree(c, 120, h + 40, 100, AUTUMN)),
        ("tree", draw_round_tree(c, 220, h + 50, 110, LEAF)),
    ]


def scene_20(c: Canvas) -> list[tuple[str, Box]]:
    h = bg_street(c, 130)
    return [
        ("sign", draw_sign(c, 20, h + 10, 36, "stop")),
        ("house", draw_house(c, 80, h, 90, (226, 214, 194), (130, 50, 46))),
        ("house", draw_house(c, 200, h, 90, (204, 220, 230), (60, 76, 110), chimney=False)),
        ("car", draw_car(c, 110, h + 90, 110, SILVER)),
    ]


def scene_21(c: Canvas) -> list[tuple[str, Box]]:
    bg_plain(c, (40, 46, 66))
    return [("car", draw_car(c, 40, 170, 110, (210, 210, 214))), ("car", draw_car(c, 170, 200, 120, RED, facing=-1))]


def scene_22(c: Canvas) -> list[tuple[str, Box]]:
    h = bg_meadow(c, 165)
    return [
        ("sign", draw_sign(c, 210, h + 40, 50, "info")),
        ("house", draw_house(c, 40, h + 40, 120, (246, 246, 240), (40, 40, 44))),
    ]


def scene_23(c: Canvas) -> list[tuple[str, Box]]:
    h = bg_dusk(c, 160)
    return [
        ("tree", draw_pine(c, 30, h + 50, 160, (26, 60, 46))),
        ("tree", draw_pine(c, 140, h + 40, 120, (30, 70, 52))),
        ("sign", draw_sign(c, 250, h + 30, 40, "yield")),
    ]


def scene_24(c: Canvas) -> list[tuple[str, Box]]:
    c.vertical_gradient(0, c.height, (214, 232, 246), (150, 190, 226), 12)
    return [
        ("house", draw_house(c, 30, 210, 110, (244, 214, 168), (170, 70, 40))),
        ("tree", draw_round_tree(c, 170, 214, 130, LEAF)),
        ("car", draw_car(c, 235, 226, 80, BLUE, facing=-1)),
    ]


SCENES = [
    ("street_red_car", scene_01),
    ("meadow_house", scene_02),
    ("two_trees", scene_03),
    ("stop_sign_plain", scene_04),
    ("street_two_cars_limit", scene_05),
    ("dusk_houses", scene_06),
    ("snow_pines_cabin", scene_07),
    ("green_car_closeup", scene_08),
    ("overcast_warning_tree", scene_09),
    ("street_house_taxi", scene_10),
    ("single_tree", scene_11),
    ("meadow_signs", scene_12),
    ("parked_row", scene_13),
    ("dusk_stop_pine", scene_14),
    ("three_cottages", scene_15),
    ("sign_pair_gradient", scene_16),
    ("snow_car", scene_17),
    ("overcast_big_house", scene_18),
    ("autumn_trees", scene_19),
    ("street_corner", scene_20),
    ("night_cars", scene_21),
    ("meadow_house_info", scene_22),
    ("dusk_forest_yield", scene_23),
    ("blue_sky_mix", scene_24),
]

# Scenes whose boxes are shipped as pre-annotations.
PREDICTED = {
    "street_red_car",
    "two_trees",
    "street_two_cars_limit",
    "dusk_houses",
    "parked_row",
    "three_cottages",
    "street_corner",
    "blue_sky_mix",
}


def render(fn) -> tuple[bytes, list[tuple[str, Box]]]:
    canvas = Canvas()
    objects = fn(canvas)
    return encode_png(canvas.width, canvas.height, canvas.palette, canvas.pixels), objects


def main() -> None:
    IMAGE_DIR.mkdir(exist_ok=True)
    lines = []
    for n, (name, fn) in enumerate(SCENES, start=1):
        png, objects = render(fn)
        (IMAGE_DIR / f"{name}.png").write_bytes(png)
        item: dict = {
            "external_id": f"img-{n:03d}",
            "data": {"image": f"images/{name}.png", "width": WIDTH, "height": HEIGHT},
        }
        if name in PREDICTED:
            item["predictions"] = [
                {
                    "boxes": [
                        {"x": x0, "y": y0, "w": x1 - x0 + 1, "h": y1 - y0 + 1, "label": label}
                        for label, (x0, y0, x1, y1) in objects
                    ]
                }
            ]
        lines.append(json.dumps(item, ensure_ascii=False))
    JSONL_PATH.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
