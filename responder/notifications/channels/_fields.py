"""The checked values channels are configured with: names, URLs, headers, addresses, templates."""

from __future__ import annotations

import re
from email.utils import parseaddr
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, PlainSerializer

from responder.journal import PriorityName
from responder.text import Templates

__all__ = [
    "ChannelName",
    "EmailAddress",
    "HeaderName",
    "HeaderValue",
    "HttpUrlText",
    "MessageTemplate",
    "PriorityLevel",
    "check_http_url",
]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
_HEADER = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 token


def _channel_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(
            f"channel name {value!r}: use lower-case letters, digits, '-' and '_', "
            "starting with a letter or digit"
        )
    return value


def check_http_url(value: str) -> str:
    """`value` if it is an absolute http:// or https:// URL with a host, else ValueError."""
    if any(char.isspace() for char in value):
        raise ValueError("a URL cannot contain white space")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    return value


def _header_name(value: str) -> str:
    if not _HEADER.match(value):
        raise ValueError(f"{value!r} is not a valid HTTP header name")
    return value


def _header_value(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("a header value cannot contain a line break")
    return value


def _address(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("an address cannot contain a line break")
    if not _ADDRESS.match(parseaddr(value)[1]):
        raise ValueError(f"{value!r} is not an email address")
    return value


def _template(value: str) -> str:
    problems = Templates().problems(value)
    if problems:
        raise ValueError("; ".join(problems))
    return value


ChannelName = Annotated[str, AfterValidator(_channel_name)]
MessageTemplate = Annotated[str, AfterValidator(_template)]
PriorityLevel = Annotated[PriorityName, PlainSerializer(lambda p: p.label, return_type=str)]
HttpUrlText = Annotated[str, AfterValidator(check_http_url)]
HeaderName = Annotated[str, AfterValidator(_header_name)]
HeaderValue = Annotated[str, AfterValidator(_header_value)]
EmailAddress = Annotated[str, AfterValidator(_address)]
