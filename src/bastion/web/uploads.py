"""Multipart uploads read into memory, never spooled to disk.

Concept. An uploaded file is client data in clear until a service seals it.
Upload routes read the request body themselves with ``read_upload``: the
multipart stream is parsed as it arrives (python-multipart's streaming parser)
and each part is kept in memory, up to a cap per route (413 above it, naming
the field). Nothing of the upload is written anywhere on the way; the service
then cleans and seals it, and the only thing on disk is the sealed blob.

The trap: Starlette's ``request.form()`` — and so FastAPI's ``UploadFile``,
``File()`` and ``Form()`` parameters, which call it — writes every file part
above 1 MiB to a ``SpooledTemporaryFile``: plaintext in the temporary
directory (on Linux an unnamed ``O_TMPFILE``, invisible to a directory
listing, there until the request ends and on the disk's free blocks after).
So an upload route declares no ``UploadFile`` and no ``Form`` parameter (the
OpenAPI body is declared with ``openapi_body``), and calls ``read_upload``
after the caller is authenticated — a body FastAPI parses itself is parsed
before any dependency runs. The memory this holds is bounded by the route's
cap, itself at most ``max_body_bytes`` (which the middleware enforces on the
raw body too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from ..domain.errors import InvalidInput, PayloadTooLarge

MAX_FIELD_BYTES = 64 * 1024  # a form's text fields (a CSRF token, a checkbox) are small
MAX_PARTS = 16


@dataclass
class Upload:
    """One file part and the form's text fields, all in memory."""

    filename: str
    content: bytes
    fields: dict[str, str] = field(default_factory=dict)

    def flag(self, name: str) -> bool:
        """A checkbox-style field: true for "true", "on", "1" or "yes"."""
        return self.fields.get(name, "").strip().lower() in ("true", "on", "1", "yes")


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)


async def read_upload(request: Request, file_field: str, max_file_bytes: int) -> Upload:
    """Parse a multipart/form-data body with exactly one file part named ``file_field``, in memory.

    InvalidInput (422) when the body is not multipart, malformed, or lacks the
    file or holds it twice; PayloadTooLarge (413) when the file passes
    ``max_file_bytes`` or a text field passes 64 KiB.
    """
    media, options = parse_options_header(request.headers.get("content-type", ""))
    if media != b"multipart/form-data" or not options.get(b"boundary"):
        raise InvalidInput(f"{file_field}: send the file as multipart/form-data (a form field named {file_field!r})")
    charset = options.get(b"charset", b"utf-8").decode("latin-1")
    parts: list[_Part] = []
    header_name = bytearray()
    header_value = bytearray()
    ended = False

    def on_part_begin() -> None:
        if len(parts) >= MAX_PARTS:
            raise InvalidInput(f"the form has more than {MAX_PARTS} parts")
        parts.append(_Part())

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        parts[-1].headers[bytes(header_name).lower()] = bytes(header_value)
        header_name.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        part = parts[-1]
        _, disposition = parse_options_header(part.headers.get(b"content-disposition", b""))
        if b"name" not in disposition:
            raise InvalidInput("a form part has no name (Content-Disposition: form-data; name=…)")
        part.name = _decode(disposition[b"name"], charset)
        if b"filename" in disposition:
            part.filename = _decode(disposition[b"filename"], charset)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part = parts[-1]
        limit = max_file_bytes if part.filename is not None else MAX_FIELD_BYTES
        if len(part.data) + (end - start) > limit:
            what = "the file" if part.filename is not None else "the field"
            raise PayloadTooLarge(f"{part.name}: {what} is larger than {limit} bytes")
        part.data.extend(data[start:end])

    def on_end() -> None:
        nonlocal ended
        ended = True

    callbacks: Any = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
        "on_end": on_end,
    }
    try:
        parser = MultipartParser(options[b"boundary"], callbacks)
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise InvalidInput(f"the request body is not valid multipart/form-data ({exc})") from None
    if not ended:
        raise InvalidInput("the request body is not valid multipart/form-data (it ends before its closing boundary)")

    files = [p for p in parts if p.filename is not None and p.name == file_field]
    if not files:
        raise InvalidInput(f"{file_field}: no file in the form (a file part named {file_field!r})")
    if len(files) > 1:
        raise InvalidInput(f"{file_field}: one file at a time")
    fields = {p.name: _decode(bytes(p.data), charset) for p in parts if p.filename is None}
    return Upload(files[0].filename or "", bytes(files[0].data), fields)


def _decode(raw: bytes, charset: str) -> str:
    try:
        return raw.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return raw.decode("latin-1")


def openapi_body(file_field: str, description: str, **text_fields: str) -> dict[str, Any]:
    """The ``openapi_extra`` that documents a multipart body read by ``read_upload``."""
    properties: dict[str, Any] = {file_field: {"type": "string", "format": "binary", "description": description}}
    properties.update({name: {"type": "string", "description": text} for name, text in text_fields.items()})
    schema = {"type": "object", "properties": properties, "required": [file_field]}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}
