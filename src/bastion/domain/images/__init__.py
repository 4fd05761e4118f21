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

One module per format (``png``, ``jpeg``, ``webp``, ``gif``), each a ``clean``
function; ``_common`` holds the limits, the refusals and the EXIF orientation.

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

from . import gif, jpeg, png, webp
from ._common import MAX_ICC_BYTES, CleanImage, ImageLimits, exif_orientation, orientation_exif
from ..errors import InvalidInput

__all__ = [
    "MAX_ICC_BYTES",
    "MEDIA_TYPES",
    "CleanImage",
    "ImageLimits",
    "clean_image",
    "exif_orientation",
    "media_type_of",
    "orientation_exif",
]

MEDIA_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
NOT_AN_IMAGE = "not an image Bastion accepts (PNG, JPEG, WebP or GIF, recognised by content)"


def media_type_of(content: bytes) -> str:
    """The image format from the magic bytes (never a name or a declared type); InvalidInput otherwise."""
    if content.startswith(png.SIGNATURE):
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
    clean = {"image/png": png.clean, "image/jpeg": jpeg.clean, "image/webp": webp.clean, "image/gif": gif.clean}[
        media_type
    ]
    width, height, cleaned = clean(content, limits)
    return CleanImage(media_type, width, height, cleaned)
