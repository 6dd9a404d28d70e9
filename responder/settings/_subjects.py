"""Client certificate subjects: written as `CN=falco, O=Example`, matched whole, in any order.

A subject in the settings and the subject of a verified client certificate are both brought to
one canonical text (attribute short names, pairs sorted, values escaped as RFC 4514 does), so
matching is string equality: every attribute and value the certificate's subject holds, no
more and no fewer. Order does not matter, so both `openssl x509 -subject` orders (`C = DE, O =
Example, CN = falco` and `-nameopt RFC2253`'s `CN=falco,O=Example,C=DE`) are the same subject.
Values compare exactly, case included; attribute names in any case, short (`CN`) or long
(`commonName`), or as a dotted OID (`2.5.4.3`).
"""

from __future__ import annotations

import re
import string
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["CertificateSubject", "canonical_subject", "peer_subject"]

# Short name, the long name OpenSSL gives (and Python's `getpeercert()` reports), and the OID.
_ATTRIBUTES = {
    "CN": ("commonName", "2.5.4.3"),
    "O": ("organizationName", "2.5.4.10"),
    "OU": ("organizationalUnitName", "2.5.4.11"),
    "C": ("countryName", "2.5.4.6"),
    "L": ("localityName", "2.5.4.7"),
    "ST": ("stateOrProvinceName", "2.5.4.8"),
    "STREET": ("streetAddress", "2.5.4.9"),
    "DC": ("domainComponent", "0.9.2342.19200300.100.1.25"),
    "UID": ("userId", "0.9.2342.19200300.100.1.1"),
    "SN": ("surname", "2.5.4.4"),
    "GN": ("givenName", "2.5.4.42"),
    "emailAddress": ("emailAddress", "1.2.840.113549.1.9.1"),
    "serialNumber": ("serialNumber", "2.5.4.5"),
    "title": ("title", "2.5.4.12"),
    "initials": ("initials", "2.5.4.43"),
    "pseudonym": ("pseudonym", "2.5.4.65"),
    "generationQualifier": ("generationQualifier", "2.5.4.44"),
    "dnQualifier": ("dnQualifier", "2.5.4.46"),
    "name": ("name", "2.5.4.41"),
    "postalCode": ("postalCode", "2.5.4.17"),
    "businessCategory": ("businessCategory", "2.5.4.15"),
}
_CANONICAL = {
    spelling.lower(): short
    for short, (long, oid) in _ATTRIBUTES.items()
    for spelling in (short, long, oid)
}
_OID = re.compile(r"[0-9]+(?:\.[0-9]+)+")
_ESCAPED = frozenset(',+"\\<>;=')
_ESCAPABLE = _ESCAPED | {"#", " "}


def canonical_subject(text: str) -> str:
    """The subject's canonical text; ValueError names what cannot be read."""
    if not text.strip():
        raise ValueError("empty subject: write it as CN=name, O=organisation")
    pairs: list[tuple[str, str]] = []
    start = 0
    while True:
        equals = text.find("=", start)
        if equals < 0:
            raise ValueError(f"{text!r}: expected ATTRIBUTE=value at {text[start:]!r}")
        name = _attribute(text[start:equals].strip(), text)
        value, start = _value(text, equals + 1)
        pairs.append((name, value))
        if start >= len(text):
            return _render(pairs)
        start += 1  # past the "," or "+" between attributes


def peer_subject(certificate: dict[str, Any] | None) -> str | None:
    """The canonical subject of a certificate as `getpeercert()` gives it; None without one.

    A certificate with an empty subject (its names only in subjectAltName) is "": it matches
    no subject listed, but is still a verified certificate.
    """
    if not certificate:
        return None
    pairs = [
        (_CANONICAL.get(str(name).lower(), str(name)), str(value))
        for rdn in certificate.get("subject", ())
        for name, value in rdn
    ]
    return _render(pairs)


def _attribute(name: str, text: str) -> str:
    canonical = _CANONICAL.get(name.lower())
    if canonical is None and _OID.fullmatch(name):
        return name  # one OpenSSL has no name for: `getpeercert()` reports it by its OID
    if canonical is None:
        known = ", ".join(_ATTRIBUTES)
        raise ValueError(f"{text!r}: unknown attribute {name!r}: one of {known}, or a dotted OID")
    return canonical


def _value(text: str, start: int) -> tuple[str, int]:
    """The value that starts at `start`, unescaped, and where it ends."""
    units: list[tuple[bytes, bool]] = []  # each character or escaped byte, and whether escaped
    at = start
    while at < len(text) and text[at] not in ",+":
        if text[at] != "\\":
            units.append((text[at].encode("utf-8", "surrogatepass"), False))
            at += 1
            continue
        pair = text[at + 1 : at + 3]
        if len(pair) == 2 and all(c in string.hexdigits for c in pair):  # noqa: PLR2004
            units.append((bytes.fromhex(pair), True))
            at += 3
        elif text[at + 1 : at + 2] in _ESCAPABLE:
            units.append((text[at + 1].encode(), True))
            at += 2
        else:
            raise ValueError(
                f"{text!r}: bad escape {text[at : at + 3]!r}: a backslash goes before one of "
                '" \\ , + ; < > = # or a space, or two hex digits'
            )
    while units and not units[0][1] and units[0][0].isspace():
        units.pop(0)
    while units and not units[-1][1] and units[-1][0].isspace():
        units.pop()
    try:
        value = b"".join(unit for unit, _ in units).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{text!r}: a value is not UTF-8 text") from None
    if not value:
        raise ValueError(f"{text!r}: an attribute has an empty value")
    return value, at


def _render(pairs: Iterable[tuple[str, str]]) -> str:
    return ",".join(f"{name}={_escape(value)}" for name, value in sorted(pairs))


def _escape(value: str) -> str:
    out = []
    for index, char in enumerate(value):
        edge = (index == 0 and char in "# ") or (index == len(value) - 1 and char == " ")
        if char in _ESCAPED or edge:
            out.append("\\" + char)
        elif not char.isprintable():  # a line break in a CN stays one line in messages
            out.append("".join(f"\\{byte:02X}" for byte in char.encode("utf-8", "surrogatepass")))
        else:
            out.append(char)
    return "".join(out)


CertificateSubject = Annotated[str, AfterValidator(canonical_subject)]
"""A client certificate subject in the settings, held in canonical form."""
