"""compose.yml's socket proxy, in-process: its allow-lists, applied in front of the real engine.

The stack's `docker-api` service (wollomatic/socket-proxy) takes one Go regular expression per
method (`-allowGET=...`), anchors it (`^` + regex + `$`) and matches it against the request's
decoded URL path; a method with no list answers 405, a path its list does not match 403.
`AllowList` reads those flags out of compose.yml and applies them the same way;
`FilteringProxy` is a Unix socket that refuses what they refuse and forwards the rest to the
real engine, recording every request, so a test learns each call the responder makes and
whether the stack would let it through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Self

import aiohttp
import yaml
from aiohttp import web
from yarl import URL

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from types import TracebackType

__all__ = ["COMPOSE", "AllowList", "Call", "FilteringProxy"]

COMPOSE = Path(__file__).resolve().parent.parent / "compose.yml"
PROXY_SERVICE = "docker-api"
DOCKER_SOCKET = "/var/run/docker.sock"
_FLAG = re.compile(r"-allow(?P<method>[A-Z]+)=(?P<regex>.+)")
# Not forwarded as they are: they describe one hop, and aiohttp sets its own.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"}
)
_CHUNK = 1 << 16


@dataclass(frozen=True)
class AllowList:
    """The regular expression of each allowed method, as written in the proxy's flags."""

    rules: Mapping[str, str]

    @classmethod
    def from_command(cls, command: Iterable[str]) -> Self:
        """From the proxy's command line: every `-allowMETHOD=REGEX` flag; the last one wins."""
        rules: dict[str, str] = {}
        for argument in command:
            found = _FLAG.fullmatch(str(argument))
            if found:
                rules[found["method"]] = found["regex"]
        return cls(rules)

    @classmethod
    def from_compose(cls, path: Path = COMPOSE) -> Self:
        """The allow-lists compose.yml gives the socket proxy."""
        compose = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls.from_command(compose["services"][PROXY_SERVICE]["command"])

    def status(self, method: str, path: str) -> int | None:
        """None when allowed; else the proxy's answer: 405 (method not listed) or 403."""
        regex = self.rules.get(method)
        if regex is None:
            return 405
        # Go's `$` without the multi-line flag is the end of the text: Python's `\Z`.
        return None if re.search(f"^{regex}\\Z", path) else 403

    def allows(self, method: str, path: str) -> bool:
        """Whether the proxy forwards `method path` (`path` decoded, without the query)."""
        return self.status(method, path) is None

    def with_alternative(self, method: str, alternative: str) -> AllowList:
        r"""The list with `alternative` added to `method`'s last group, as docs/deploy.md says.

        compose.yml writes each list as `/(v1\.[0-9]+/)?(A|B|...)`: an alternative goes in
        before the closing parenthesis. A method with no list gets one of that shape.
        """
        regex = self.rules.get(method)
        if regex is None:
            updated = f"/(v1\\.[0-9]+/)?({alternative})"
        else:
            assert regex.endswith(")"), f"-allow{method} does not end with a group: {regex}"
            updated = f"{regex[:-1]}|{alternative})"
        return AllowList({**self.rules, method: updated})


@dataclass(frozen=True)
class Call:
    """One request the responder made to the engine, and whether the proxy let it through."""

    method: str
    path: str
    allowed: bool

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass
class FilteringProxy:
    """A Unix socket that applies `allow` and forwards what passes to the real engine."""

    allow: AllowList
    path: Path
    upstream: str = DOCKER_SOCKET
    calls: list[Call] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        """The engine address to give the responder."""
        return f"unix://{self.path}"

    def refused(self) -> list[Call]:
        """Every call the proxy refused so far."""
        return [call for call in self.calls if not call.allowed]

    async def __aenter__(self) -> Self:
        connector = aiohttp.UnixConnector(path=self.upstream)
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, timeout=aiohttp.ClientTimeout(total=300)
        )
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.UnixSite(self._runner, str(self.path)).start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        status = self.allow.status(request.method, request.path)
        self.calls.append(Call(request.method, request.path, allowed=status is None))
        if status is not None:
            # wollomatic/socket-proxy answers with the status's text, as http.Error does.
            reason = "Forbidden" if status == 403 else "Method Not Allowed"
            return web.Response(status=status, text=f"{reason}\n")
        return await self._forward(request)

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        body = await request.read()
        target = URL(f"http://docker{request.raw_path}", encoded=True)
        async with self._session.request(
            request.method, target, headers=headers, data=body or None, allow_redirects=False
        ) as upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in _HOP_BY_HOP:
                    response.headers.add(key, value)
            if upstream.content_length is not None:
                response.content_length = upstream.content_length
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(_CHUNK):
                await response.write(chunk)
            await response.write_eof()
            return response
