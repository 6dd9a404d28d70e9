"""Compressed request bodies: gzip and deflate, decoded here within the body limit.

aiohttp's own decoding is turned off (`auto_decompress=False`): it answers a stream cut short
with a bare "400 deflate" in plain text from deep in the parser, races the handler for the
answer, and names a Python package to install for brotli. Here every outcome is a JSON error
that says what is wrong, and the limit counts the bytes after decompression, so a small bomb
is cut off at `max_body_bytes + 1` bytes of output.
"""

from __future__ import annotations

import zlib

from responder.errors import InputError

__all__ = ["decode_body"]

_GZIP = zlib.MAX_WBITS | 16
_ZLIB = zlib.MAX_WBITS
_RAW_DEFLATE = -zlib.MAX_WBITS
_DEFLATE = 8  # the method a zlib header names (RFC 1950), in the low bits of its first byte
_MAX_CODINGS = 3  # more layers than this is no sender we know of, and only costs CPU
_UNSUPPORTED = 415


def decode_body(raw: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The body with its Content-Encoding undone, or InputError (400, 413 or 415)."""
    if not content_encoding:
        return raw
    codings = [c.strip().lower() for c in content_encoding.split(",")]
    codings = [c for c in codings if c and c != "identity"]
    if len(codings) > _MAX_CODINGS:
        raise InputError(
            _UNSUPPORTED,
            f"Content-Encoding has {len(codings)} codings; at most {_MAX_CODINGS} are decoded",
        )
    for coding in codings:
        if coding not in ("gzip", "x-gzip", "deflate"):
            raise InputError(
                _UNSUPPORTED,
                f"Content-Encoding {coding[:40]!r} is not supported: send the body as is, "
                "or as gzip or deflate",
            )
    for coding in reversed(codings):  # the last coding listed was applied last
        raw = _inflate(raw, coding, limit)
    return raw


def _inflate(data: bytes, coding: str, limit: int) -> bytes:
    name = "gzip" if coding == "x-gzip" else coding
    if name == "gzip":
        wbits = _GZIP
    else:  # RFC 9110's deflate is zlib-wrapped; some senders send the raw stream
        wrapped = (
            len(data) > 1 and data[0] & 0x0F == _DEFLATE and int.from_bytes(data[:2]) % 31 == 0
        )
        wbits = _ZLIB if wrapped else _RAW_DEFLATE
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise InputError(400, f"body is not valid {name}: {exc}") from None
    if len(out) > limit:
        raise InputError(413, f"body exceeds the limit of {limit} bytes once {name} is undone")
    if not inflater.eof:
        raise InputError(400, f"{name} body is cut short: the compressed stream does not end")
    if inflater.unused_data:
        raise InputError(
            400, f"{len(inflater.unused_data)} bytes follow the end of the {name} stream"
        )
    return out
