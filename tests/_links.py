"""What a chat or mail client would make a link of: the oracle for "alert text links nowhere".

linkify-it is the linkifier of markdown-it and of the chat clients built on it; it is given
the top-level domains the responder promises to defang (`responder.text`).
"""

from __future__ import annotations

from linkify_it import LinkifyIt  # type: ignore[import-untyped] # ships no types

from responder.text._inert import _GENERIC

__all__ = ["links"]

_LINKIFY = LinkifyIt().tlds(_GENERIC.split(), True)  # noqa: FBT003 - linkify-it's keep_old


def links(text: str) -> list[str]:
    """Every link a linkifier finds in `text`, as the URL it would open."""
    return [match.url for match in _LINKIFY.match(text) or []]
