"""Images for the file tests: real files, the same files with a canary in every place metadata can hide,
and walkers that read a file's structure back (written apart from the code under test).

The canary reads like what a leak would carry: a project's codename, a person's
name and GPS coordinates. A test asserts that it is in the input (so the test
cannot pass vacuously) and nowhere in what is stored or served.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent
FIXTURES = ROOT / "fixtures" / "images"
PNG = (ROOT.parent / "src" / "bastion" / "demo" / "data" / "images" / "single_tree.png").read_bytes()
JPEG = (FIXTURES / "photo.jpg").read_bytes()
WEBP_LOSSY = (FIXTURES / "photo.webp").read_bytes()
WEBP_LOSSLESS = (FIXTURES / "lossless.webp").read_bytes()
WEBP_ALPHA = (FIXTURES / "alpha.webp").read_bytes()
GIF = (FIXTURES / "anim.gif").read_bytes()
CANARY = b"NIGHTJAR-Jane-Roe-48.85837N-2.29448E"


# -- building blocks ---------------------------------------------------------------------------


def tiff(entries: dict[int, tuple[int, bytes]], *, gps: dict[int, tuple[int, bytes]] | None = None) -> bytes:
    """A big-endian TIFF/EXIF block: IFD0 (tag → (type, value bytes)), optionally a GPS IFD."""
    entries = dict(entries)
    if gps is not None:
        entries[0x8825] = (4, b"\x00\x00\x00\x00")  # patched below
    ifd0_size = 2 + 12 * len(entries) + 4
    out_values = bytearray()
    base = 8 + ifd0_size
    table = bytearray(struct.pack(">H", len(entries)))
    counts = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1}
    gps_entry_at = None
    for tag in sorted(entries):
        kind, value = entries[tag]
        count = len(value) // counts[kind]
        if tag == 0x8825:
            gps_entry_at = len(table)
        if len(value) <= 4:
            field = value.ljust(4, b"\x00")
        else:
            field = struct.pack(">I", base + len(out_values))
            out_values += value + (b"\x00" if len(value) & 1 else b"")
        table += struct.pack(">HHI", tag, kind, count) + field
    table += b"\x00\x00\x00\x00"
    block = bytearray(b"MM\x00\x2a\x00\x00\x00\x08" + table + out_values)
    if gps is not None:
        gps_block = tiff(gps)[8:]  # an IFD laid out from offset 8: rebase its pointers
        offset = len(block)
        rebased = _rebase_ifd(gps_block, offset - 8)
        block[8 + gps_entry_at + 8 : 8 + gps_entry_at + 12] = struct.pack(">I", offset)
        block += rebased
    return bytes(block)


def _rebase_ifd(ifd: bytes, delta: int) -> bytes:
    out = bytearray(ifd)
    (count,) = struct.unpack(">H", ifd[:2])
    sizes = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1}
    for i in range(count):
        e = 2 + 12 * i
        _tag, kind, n = struct.unpack(">HHI", ifd[e : e + 8])
        if sizes[kind] * n > 4:
            (off,) = struct.unpack(">I", ifd[e + 8 : e + 12])
            out[e + 8 : e + 12] = struct.pack(">I", off + delta)
    return bytes(out)


def exif_block(canary: bytes, orientation: int = 6) -> bytes:
    """EXIF with the canary as description, artist, a UTF-16 comment and GPS area, beside a real orientation."""
    return tiff(
        {
            0x010E: (2, canary + b"\x00"),
            0x013B: (2, canary + b"\x00"),
            0x0112: (3, struct.pack(">H", orientation)),
            0x9C9C: (1, canary.decode().encode("utf-16-le")),
            0x0132: (2, b"2024:05:01 07:42:13\x00"),
        },
        gps={
            0x0001: (2, b"N\x00"),
            0x0002: (5, struct.pack(">IIIIII", 48, 1, 51, 1, 30, 1)),
            0x001C: (7, b"ASCII\x00\x00\x00" + canary),
        },
    )


def xmp(canary: bytes) -> bytes:
    return (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>'
        + canary
        + b"</dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>"
    )


# -- PNG -----------------------------------------------------------------------------------------


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of each chunk up to IEND; asserts the signature and every CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, out = 8, []
    while True:
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0] == zlib.crc32(kind + body)
        out.append((kind, body))
        pos += 12 + length
        if kind == b"IEND":
            assert pos == len(data), "bytes after IEND"
            return out


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_from(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(png_chunk(k, d) for k, d in chunks)


def png_with_metadata(png: bytes, canary: bytes = CANARY, orientation: int = 6) -> bytes:
    chunks = png_chunks(png)
    ihdr, rest = chunks[0], chunks[1:]
    text = canary.decode()
    meta = [
        (b"tEXt", b"Comment\x00" + canary),
        (b"zTXt", b"Author\x00\x00" + zlib.compress(canary)),
        (b"iTXt", b"Title\x00\x00\x00en\x00" + canary + b"\x00" + canary),
        (b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + zlib.compress(xmp(canary))),
        (b"eXIf", exif_block(canary, orientation)),
        (b"tIME", struct.pack(">HBBBBB", 2024, 5, 1, 7, 42, 13)),
        (b"sPLT", text.encode() + b"\x00\x08" + b"\x10\x20\x30\x00\x01"),
        (b"prVt", canary),
        (b"caNv", struct.pack(">II", 640, 480) + canary),
    ]
    idat_at = next(i for i, (k, _) in enumerate(rest) if k == b"IDAT")
    after = [(b"tEXt", b"Software\x00" + canary)]
    body = rest[:idat_at] + meta + [c for c in rest[idat_at:] if c[0] != b"IEND"] + after + [(b"IEND", b"")]
    return png_from([ihdr, *body]) + b"trailer:" + canary


def png_header(width: int, height: int, idat: bytes = b"", color: int = 2) -> bytes:
    return png_from(
        [
            (b"IHDR", struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0)),
            (b"IDAT", idat or zlib.compress(b"\x00")),
            (b"IEND", b""),
        ]
    )


def zlib_bomb(width: int, height: int) -> bytes:
    """The IDAT of a width × height greyscale PNG of zeros: each row compressed once and repeated (3.4 MB for 50,000²)."""
    row = b"\x00" * (width + 1)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(row) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeat = deflate.compress(row) + deflate.flush(zlib.Z_FULL_FLUSH)
    last = deflate.compress(b"") + deflate.flush()
    adler = 1
    for _ in range(height):
        adler = zlib.adler32(row, adler)
    return b"\x78\xda" + first + repeat * (height - 1) + last + struct.pack(">I", adler)


def png_pixels(png: bytes) -> bytes:
    """The inflated pixel data (filtered rows): proves the IDAT stream decodes to what IHDR declares."""
    chunks = png_chunks(png)
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert interlace == 0
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color]
    raw = zlib.decompress(b"".join(d for k, d in chunks if k == b"IDAT"))
    assert len(raw) == height * (1 + (width * channels * depth + 7) // 8)
    return raw


# -- JPEG ----------------------------------------------------------------------------------------


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of each segment; a scan's payload includes its entropy-coded data. Ends at EOI."""
    assert data[:2] == b"\xff\xd8"
    pos, out = 2, []
    while True:
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        if marker == 0xD9:
            out.append((marker, b""))
            assert pos + 2 == len(data), "bytes after EOI"
            return out
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if marker == 0xDA:
            i = end
            while True:
                i = data.index(b"\xff", i)
                if data[i + 1] == 0 or 0xD0 <= data[i + 1] <= 0xD7:
                    i += 2
                    continue
                break
            end = i
        out.append((marker, data[pos + 4 : end]))
        pos = end


def app(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg_with_metadata(jpeg: bytes, canary: bytes = CANARY, orientation: int = 6) -> bytes:
    segments = jpeg_segments(jpeg)
    assert segments[0][0] == 0xE0
    thumb = (canary * 3)[: 3 * 4 * 2].ljust(24, b"\x00")  # a 4×2 RGB thumbnail made of the canary
    jfif = segments[0][1][:12] + b"\x04\x02" + thumb
    iptc = (
        b"Photoshop 3.0\x008BIM\x04\x04\x00\x00"
        + struct.pack(">I", len(canary) + 5)
        + b"\x1c\x02\x50"
        + struct.pack(">H", len(canary))
        + canary
    )
    head = (
        app(0xE0, jfif)
        + app(0xE0, b"JFXX\x00\x10" + canary)
        + app(0xE1, b"Exif\x00\x00" + exif_block(canary, orientation))
        + app(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + xmp(canary))
        + app(0xED, iptc)
        + app(0xFE, canary)
        + app(0xE2, b"MPF\x00" + canary)
        + app(0xEB, b"JP\x00\x00" + canary)
        + app(0xEF, canary)
        + app(0xE4, canary)
    )
    rest = b""
    for marker, payload in segments[1:-1]:
        if marker in (0xC0, 0xC1, 0xC2):  # a comment between the tables and the frame header too
            rest += app(0xFE, b"mid " + canary)
        rest += _segment(marker, payload)
    return b"\xff\xd8" + head + rest + b"\xff\xd9" + b"SEFT" + canary


def _segment(marker: int, payload: bytes) -> bytes:
    if marker != 0xDA:
        return app(marker, payload)
    header_length = 2 + 1 + 2 * payload[0] + 3  # the scan's own header; its entropy-coded data follows
    return b"\xff\xda" + struct.pack(">H", header_length) + payload


# -- WebP ----------------------------------------------------------------------------------------


def riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(fourcc, data) of each chunk; asserts the RIFF size covers the file exactly."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8, "RIFF size does not match the file"
    return _chunks(data, 12)


def _chunks(data: bytes, pos: int) -> list[tuple[bytes, bytes]]:
    out = []
    while pos < len(data):
        kind, (size,) = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])
        out.append((kind, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    assert pos == len(data)
    return out


def riff_chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) & 1 else b"")


def webp_from(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"WEBP" + b"".join(riff_chunk(k, d) for k, d in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def webp_simple(webp: bytes) -> bytes:
    """The simple format (one VP8/VP8L chunk) of an extended file: what most encoders write."""
    (image,) = [(k, d) for k, d in riff_chunks(webp) if k in (b"VP8 ", b"VP8L")]
    return webp_from([image])


def webp_bitstream_size(kind: bytes, data: bytes) -> tuple[int, int]:
    if kind == b"VP8 ":
        w, h = struct.unpack("<HH", data[6:10])
        return w & 0x3FFF, h & 0x3FFF
    bits = int.from_bytes(data[1:5], "little")
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1


def webp_with_metadata(webp: bytes, canary: bytes = CANARY, orientation: int = 6) -> bytes:
    chunks = riff_chunks(webp)
    vp8x = chunks[0][1] if chunks[0][0] == b"VP8X" else None
    if vp8x is None:  # simple: the canvas is the bitstream's
        w, h = webp_bitstream_size(*chunks[0])
        vp8x = b"\x00" * 4 + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
    flags = vp8x[0] | 0x08 | 0x04  # EXIF, XMP
    body = [c for c in chunks if c[0] != b"VP8X"]
    return (
        webp_from(
            [
                (b"VP8X", bytes([flags]) + vp8x[1:]),
                *body,
                (b"ZZZZ", canary),
                (b"EXIF", exif_block(canary, orientation)),
                (b"XMP ", xmp(canary)),
            ]
        )
        + b"trailing "
        + canary
    )


def webp_animated(webp: bytes, canary: bytes = CANARY) -> bytes:
    """One still image as a one-frame animation, with an unknown chunk inside the frame and metadata after."""
    chunks = riff_chunks(webp)
    header = chunks[0][1]
    w, h = int.from_bytes(header[4:7], "little") + 1, int.from_bytes(header[7:10], "little") + 1
    frame_header = b"\x00" * 6 + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little") + b"\x64\x00\x00\x00"
    images = [riff_chunk(k, d) for k, d in chunks if k in (b"ALPH", b"VP8 ", b"VP8L")]
    frame = frame_header + b"".join(images) + riff_chunk(b"UNKN", canary)  # unknown chunks follow the bitstream
    flags = header[0] | 0x02 | 0x08
    rest = [c for c in chunks[1:] if c[0] not in (b"ALPH", b"VP8 ", b"VP8L")]
    return webp_from(
        [
            (b"VP8X", bytes([flags]) + header[1:]),
            *rest,
            (b"ANIM", b"\xff\xff\xff\xff\x00\x00"),
            (b"ANMF", frame),
            (b"EXIF", exif_block(canary)),
        ]
    )


# -- GIF -----------------------------------------------------------------------------------------


def gif_blocks(data: bytes) -> list[tuple[int, bytes]]:
    """(introducer or extension label, bytes) of each block after the screen descriptor; ends at the trailer."""
    assert data[:6] in (b"GIF87a", b"GIF89a")
    packed = data[10]
    pos = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
    out = []
    while data[pos] != 0x3B:
        start = pos
        if data[pos] == 0x2C:
            fpacked = data[pos + 9]
            pos += 10 + (3 << ((fpacked & 7) + 1) if fpacked & 0x80 else 0) + 1
            kind = 0x2C
        else:
            kind = data[pos + 1]
            pos += 2
        while data[pos]:
            pos += 1 + data[pos]
        pos += 1
        out.append((kind, data[start:pos]))
    assert pos + 1 == len(data), "bytes after the trailer"
    return out


def _sub_blocks(payload: bytes) -> bytes:
    return (
        b"".join(bytes([len(payload[i : i + 255])]) + payload[i : i + 255] for i in range(0, len(payload), 255))
        + b"\x00"
    )


def gif_with_metadata(gif: bytes, canary: bytes = CANARY) -> bytes:
    packed = gif[10]
    start = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
    meta = (
        b"\x21\xfe"
        + _sub_blocks(canary)
        + b"\x21\xff\x0bXMP DataXMP"
        + _sub_blocks(xmp(canary))
        + b"\x21\x01\x0c"
        + b"\x00" * 12
        + _sub_blocks(canary)
        + b"\x21\xff\x0bNETSCAPE2.0"
        + _sub_blocks(b"\x01\x00\x00" + canary)
    )
    body = gif[start:-1]
    return gif[:start] + meta + body + b"\x21\xfe" + _sub_blocks(canary) + b"\x3b" + canary
