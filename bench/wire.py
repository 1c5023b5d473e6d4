"""The two HTTP clients a virtual user can use: `raw`, a minimal HTTP/1.1 keep-alive client on asyncio
streams (one connection per user, nothing but what the bench needs), and `httpx`, an httpx.AsyncClient.

Both post urlencoded forms, never follow redirects, and hand back status, lower-cased headers and body.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

import httpx

FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else None


class Client(Protocol):
    async def post_form(self, path: str, body: str, cookie: str | None = None) -> Answer: ...

    async def get(self, path: str) -> Answer: ...

    async def close(self) -> None: ...


class RawClient:
    """One keep-alive HTTP/1.1 connection to `host:port`, reopened when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._authority = f"{host}:{port}".encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post_form(self, path: str, body: str, cookie: str | None = None) -> Answer:
        payload = body.encode()
        extra = b"Cookie: " + cookie.encode() + b"\r\n" if cookie else b""
        head = (
            b"POST " + path.encode() + b" HTTP/1.1\r\nHost: " + self._authority + b"\r\n"
            b"Content-Type: " + FORM.encode() + b"\r\nContent-Length: " + str(len(payload)).encode() + b"\r\n"
        )
        return await self._exchange(head + extra + b"\r\n" + payload)

    async def get(self, path: str) -> Answer:
        return await self._exchange(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + self._authority + b"\r\n\r\n")

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._reader = self._writer = None

    async def _exchange(self, request: bytes) -> Answer:
        if self._writer is None or self._reader is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        self._writer.write(request)
        try:
            answer, keep = await _read_answer(self._reader)
        except BaseException:
            await self.close()
            raise
        if not keep:
            await self.close()
        return answer


async def _read_answer(reader: asyncio.StreamReader) -> tuple[Answer, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), []).append(value.strip())
    length = headers.get("content-length")
    if length is not None:
        body = await reader.readexactly(int(length[0]))
    elif "chunked" in (headers.get("transfer-encoding") or [""])[0].lower():
        body = await _read_chunks(reader)
    else:
        body = await reader.read()  # the server closes to end the body
        return Answer(status, headers, body), False
    keep = (headers.get("connection") or [""])[0].lower() != "close"
    return Answer(status, headers, body), keep


async def _read_chunks(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


class HttpxClient:
    """An httpx.AsyncClient per user; cookies are passed explicitly, as with RawClient."""

    def __init__(self, host: str, port: int) -> None:
        self._http = httpx.AsyncClient(
            base_url=f"http://{host}:{port}", timeout=30, limits=httpx.Limits(max_connections=1), trust_env=False
        )

    async def post_form(self, path: str, body: str, cookie: str | None = None) -> Answer:
        headers = {"Content-Type": FORM}
        if cookie:
            headers["Cookie"] = cookie
        response = await self._http.post(path, content=body.encode(), headers=headers)
        self._http.cookies.clear()  # the user keeps its cookie itself; the jar would send it twice
        return _answer(response)

    async def get(self, path: str) -> Answer:
        return _answer(await self._http.get(path))

    async def close(self) -> None:
        await self._http.aclose()


def _answer(response: httpx.Response) -> Answer:
    headers: dict[str, list[str]] = {}
    for name, value in response.headers.multi_items():
        headers.setdefault(name.lower(), []).append(value)
    return Answer(response.status_code, headers, response.content)


def make_client(kind: str, host: str, port: int) -> Client:
    if kind == "raw":
        return RawClient(host, port)
    if kind == "httpx":
        return HttpxClient(host, port)
    raise ValueError(f"unknown client '{kind}'; use raw or httpx")
