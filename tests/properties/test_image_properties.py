"""Properties of the image cleaner, fuzzed from real files.

1. Whatever bytes arrive — real files with flipped, cut, inserted or
   overwritten bytes — cleaning answers a cleaned image or a clear refusal
   (InvalidInput, PayloadTooLarge), never another exception.
2. What it answers is well-formed (the samples' own walkers read it back),
   carries no byte past the format's end, and cleans to itself (idempotent:
   files are cleaned again when served, and the digest must not move).
3. Metadata never changes the result: any text in every metadata place, any
   orientation, gives the picture cleaned without it plus, at most, the
   one-tag orientation block.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import image_samples as S
from bastion.domain.errors import InvalidInput, PayloadTooLarge
from bastion.domain.images import ImageLimits, clean_image, exif_orientation

LIMITS = ImageLimits()
BASES = {
    "png": S.PNG,
    "jpeg": S.JPEG,
    "webp": S.WEBP_LOSSY,
    "webp-lossless": S.WEBP_LOSSLESS,
    "webp-alpha": S.WEBP_ALPHA,
    "webp-simple": S.webp_simple(S.WEBP_LOSSY),
    "gif": S.GIF,
}
SEEDS = {
    **BASES,
    "png-meta": S.png_with_metadata(S.PNG),
    "jpeg-meta": S.jpeg_with_metadata(S.JPEG),
    "webp-meta": S.webp_with_metadata(S.WEBP_ALPHA),
    "webp-anim": S.webp_animated(S.WEBP_ALPHA),
    "gif-meta": S.gif_with_metadata(S.GIF),
}
WALK = {
    "image/png": S.png_chunks,
    "image/jpeg": S.jpeg_segments,
    "image/webp": S.riff_chunks,
    "image/gif": S.gif_blocks,
}


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed with a few random edits, mostly past its magic bytes (edits there only make it 'not an image')."""
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)) | st.integers(min(12, len(data)), len(data)))
        match draw(st.sampled_from(["flip", "cut", "insert", "overwrite", "truncate"])):
            case "flip" if at < len(data):
                data[at] ^= 1 << draw(st.integers(0, 7))
            case "cut":
                del data[at : at + draw(st.integers(1, 64))]
            case "insert":
                data[at:at] = draw(st.binary(min_size=1, max_size=64))
            case "overwrite":
                chunk = draw(st.binary(min_size=1, max_size=8))
                data[at : at + len(chunk)] = chunk
            case "truncate":
                del data[at:]
    return bytes(data)


@st.composite
def png_mutated(draw: st.DrawFn) -> bytes:
    """PNG edits that keep every CRC right (a flipped byte alone only ever fails the CRC check)."""
    chunks = S.png_chunks(draw(st.sampled_from([S.PNG, S.png_with_metadata(S.PNG).split(b"trailer:")[0]])))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(chunks) - 1))
        kind, data = chunks[i]
        match draw(st.sampled_from(["data", "kind", "drop", "duplicate", "move"])):
            case "data":
                at = draw(st.integers(0, len(data)))
                data = data[:at] + draw(st.binary(max_size=16)) + data[at + draw(st.integers(0, 16)) :]
                chunks[i] = (kind, data)
            case "kind":
                chunks[i] = (
                    draw(
                        st.sampled_from(
                            [
                                b"IHDR",
                                b"PLTE",
                                b"IDAT",
                                b"IEND",
                                b"tRNS",
                                b"iCCP",
                                b"fcTL",
                                b"acTL",
                                b"eXIf",
                                b"sBIT",
                                b"bKGD",
                                b"gAMA",
                                b"zzZZ",
                                b"ZZZZ",
                            ]
                        )
                    ),
                    data,
                )
            case "drop":
                del chunks[i]
            case "duplicate":
                chunks.insert(i, (kind, data))
            case "move":
                chunks.insert(draw(st.integers(0, len(chunks))), chunks.pop(i))
        if not chunks:
            break
    return S.png_from(chunks)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated() | png_mutated())
def test_any_bytes_give_a_clean_image_or_a_clear_refusal(data):
    try:
        image = clean_image(data, LIMITS)
    except (InvalidInput, PayloadTooLarge) as refused:
        assert refused.message
        return
    WALK[image.media_type](image.content)  # well-formed, nothing after the end
    again = clean_image(image.content, LIMITS)
    assert again == image
    assert len(image.content) <= len(data) + 64  # at most the orientation block and a JFIF/VP8X header are added


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(BASES)), text=st.text(min_size=1, max_size=200), orientation=st.integers(1, 8))
def test_metadata_never_changes_the_picture(kind, text, orientation):
    base = BASES[kind]
    canary = text.encode()
    add = {"png": S.png_with_metadata, "jpeg": S.jpeg_with_metadata, "gif": S.gif_with_metadata}.get(
        kind.split("-")[0], S.webp_with_metadata
    )
    dirty = add(base, canary) if kind == "gif" else add(base, canary, orientation)
    cleaned = clean_image(dirty, LIMITS)
    plain = clean_image(base, LIMITS)
    assert (cleaned.media_type, cleaned.width, cleaned.height) == (plain.media_type, plain.width, plain.height)
    units = WALK[cleaned.media_type](cleaned.content)
    if kind == "gif":
        assert cleaned.content == plain.content
        return
    exif = [u for u in units if u[0] in (b"eXIf", b"EXIF", 0xE1)]
    assert len(exif) == (orientation != 1)
    if exif:
        assert exif_orientation(exif[0][1]) == orientation and len(exif[0][1].removeprefix(b"Exif\x00\x00")) == 26
    rest = [u for u in units if u not in exif and u[0] != b"VP8X"]
    assert rest == [u for u in WALK[plain.media_type](plain.content) if u[0] != b"VP8X"]
