"""Alert text made inert: one line, every control shown as an escape, every link defanged.

An alert is written by the attacker. Where its text reaches a person (the service log, a chat
message, a mail) it must not start a line of its own (and so pass for one of ours, such as
`Undo: ...`), hide or reorder text (bidi overrides, zero-width characters), or become a link that
chat and mail clients make of any URL or host name they see, even in plain text. Security tooling
shows such text "defanged": `https[://]evil[.]com/x`, which a person can still read and copy.
"""

from __future__ import annotations

import re

__all__ = ["LINE_BREAK", "defang", "escape_controls", "inert", "quote_block"]

# C0 and C1 controls (tab, CR and LF included), DEL, the Unicode line and paragraph separators,
# the bidi marks, embeddings, overrides and isolates, and the invisible characters that hide
# text (zero-width space, word joiner and invisible operators, the BOM, interlinear annotations).
# Every character str.splitlines() breaks on is among them.
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u180e\u200b\u200e\u200f\u2028\u2029\u202a-\u202e"
    "\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]"
)
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""Where a multi-line alert value is split into the lines of a quoted block."""

# A scheme with `//` (https, ftp, ssh, ...) loses its `://` to `[://]`; `//host` alone (which
# clients read as a link) loses its `//`; the schemes clients follow without `//`, their colon.
_SCHEME = re.compile(r"\b([a-z][a-z0-9+.-]{0,31})://", re.IGNORECASE)
_SLASHES = re.compile(r"(?<![\w/:])//(?=[^\s\]/])")
_BARE_SCHEME = re.compile(r"\b(mailto|javascript|vbscript):", re.IGNORECASE)
_MAIL_TO_ADDRESS = re.compile(r"@(?=\d{1,3}(?:\.\d{1,3}){3}(?!\d))")  # `root@10.0.0.1` mails
_WWW = re.compile(r"(?<![\w-])(www\d{0,3})\.(?=\w)", re.IGNORECASE)
# The top-level domains clients link without a scheme: linkify-it's fuzzy list (markdown-it,
# and the chat clients built on it) with every two-letter country code, the generic ones most
# registered and most used in phishing, and punycode. A dotted name is defanged only when its
# last label is one of these, so field names such as `proc.cmdline` or `evt.time` stay as they
# are; `container.name` (`.name` is a domain) becomes `container[.]name`.
_GENERIC = (
    "aero agency app asia bid biz blog buzz cam cat click cloud club com company coop dev digital "
    "edu email fun gov group host icu info int jobs life link live loan ltd mil mobi mov museum "
    "name net network news one online org page post pro rest shop site space store support "
    "systems tech tel today tools top travel vip web website win work world xxx xyz zip рф"
)
_COUNTRY = (
    "a[cdefgilmnoqrstuwxz]|b[abdefghijmnorstvwyz]|c[acdfghiklmnoruvwxyz]|d[ejkmoz]|e[cegrstu]"
    "|f[ijkmor]|g[abdefghilmnpqrstuwy]|h[kmnrtu]|i[delmnoqrst]|j[emop]|k[eghimnprwyz]"
    "|l[abcikrstuvy]|m[acdeghklmnopqrstuvwxyz]|n[acefgilopruz]|om|p[aefghklmnrstwy]|qa"
    "|r[eosuw]|s[abcdeghijklmnortuvxyz]|t[cdfghjklmnortvwz]|u[agksyz]|v[aceginu]|w[fs]|y[et]"
    "|z[amw]"
)
_TLD = re.compile("|".join([*_GENERIC.split(), _COUNTRY, "xn--[a-z0-9-]{1,59}"]), re.IGNORECASE)
_DOTS = "[.\u3002\uff0e\uff61]"  # IDNA reads the ideographic and full-width stops as dots
# A run of text without spaces or brackets that holds a dot. Linkifiers take nearly any
# character into a host name (linkify-it: all but spaces, punctuation and controls; `evil|.com`
# is a link), so only spaces, dots and the brackets of a defanged dot end a run; `_defang_run`
# finds the host names in it. Possessive, so a long run costs one pass.
_IN_RUN = rf"[^\s\[\]{_DOTS[1:-1]}]"
# It starts only where a run starts: tried from inside one, each try would read to its end.
_DOTTED = re.compile(rf"(?<!{_IN_RUN}){_IN_RUN}++(?:{_DOTS}{_IN_RUN}++)+")
_DOT = re.compile(_DOTS)
_AFTER_LABEL = re.compile(r"[^\w-]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"  # noqa: PLR2004 - one byte


def escape_controls(text: str) -> str:
    r"""`text` on one line: each control, line break, bidi or invisible character as an escape.

    `\n`, `\r`, `\t`, then `\x1b`, `\x85`, `\u2028`, `\u202e` and the like: what was
    there stays visible and nothing can start a new line. Backslashes are left as they are.
    """
    return _CONTROL.sub(_escape, text)


def defang(text: str) -> str:
    """`text` with every URL, `www.` and host name made unclickable: `https[://]evil[.]com/x`."""
    text = _SCHEME.sub(r"\1[://]", text)
    text = _SLASHES.sub("[//]", text)
    text = _BARE_SCHEME.sub(r"\1[:]", text)
    text = _MAIL_TO_ADDRESS.sub("[@]", text)
    text = _WWW.sub(r"\1[.]", text)
    return _DOTTED.sub(_defang_run, text)


def _defang_run(match: re.Match[str]) -> str:
    """A run with the dot before each label that would end a host name bracketed.

    A label ends a host when it is a known top-level domain followed by anything but a letter,
    digit or hyphen (a `/`, a `:port`, the end), or by a dot bracketed already: `x.io.com` is
    `x[.]io[.]com` (`x.io[.]com` would still link `x.io`); `libc.so.6` stays as it is (`6` is
    no domain, so neither is `libc.so`).
    """
    run = match.group()
    pieces = _DOT.split(run)
    dots = _DOT.findall(run)
    ends_host = True  # the run's last label is followed by a space, a bracket or nothing
    for index in range(len(pieces) - 1, 0, -1):
        piece = pieces[index]
        label = _AFTER_LABEL.split(piece, maxsplit=1)[0]
        if label != piece:
            ends_host = True  # the label ends at a `/`, a `:` or the like
        if label and ends_host and _TLD.fullmatch(label):
            dots[index - 1] = f"[{dots[index - 1]}]"
        else:
            # The label before ends a host when this dot is followed by no label (`evil.com.(`)
            # or is an ideographic or full-width one, which linkifiers read as punctuation.
            ends_host = not label or dots[index - 1] != "."
    return pieces[0] + "".join(dot + piece for dot, piece in zip(dots, pieces[1:], strict=True))


def inert(text: str, limit: int | None = None) -> str:
    """Alert text as one line of a message: controls escaped, links defanged.

    Past `limit` characters it is cut, and says how many more there were.
    """
    shown = defang(escape_controls(text))
    if limit is None or len(shown) <= limit:
        return shown
    return f"{shown[:limit]}… ({len(shown) - limit} more characters)"


def quote_block(text: str, prefix: str = "> ", limit: int | None = None) -> str:
    """Multi-line alert text as a quoted block: each of its lines inert and after `prefix`.

    Lines are split at CR LF, CR and LF; every other separator is shown as an escape. The block
    has no trailing line break; empty text is one empty quoted line. Past `limit` characters
    its last line says how many more there were.
    """
    lines = [f"{prefix}{inert(line)}".rstrip(" ") for line in LINE_BREAK.split(text.rstrip("\r\n"))]
    block = "\n".join(lines)
    if limit is None or len(block) <= limit:
        return block
    kept = block[:limit].rsplit("\n", 1)[0] if "\n" in block[:limit] else block[:limit]
    return f"{kept}\n{prefix}… ({len(block) - len(kept)} more characters)"
