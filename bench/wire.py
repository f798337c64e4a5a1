"""Lean clients for load: WebSockets without keep-alive pings or compression, and a raw HTTP SSE reader."""

from __future__ import annotations

import asyncio
import json
import random

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

BENCH_ORIGIN = "http://bench.test"


async def ws_open(
    url: str, *, origin: str | None = BENCH_ORIGIN, cookie: str | None = None, attempts: int = 5, timeout: float = 30.0
):
    """Open a WebSocket, retrying a refused, dropped or timed-out handshake with jittered backoff."""
    headers = {"Cookie": cookie} if cookie else None
    for attempt in range(attempts):
        try:
            # The server pings (Daphne every 20 s) and the client answers; client pings would only add load.
            return await connect(
                url,
                origin=origin,
                additional_headers=headers,
                compression=None,
                ping_interval=None,
                open_timeout=timeout,
                max_size=2**22,
                max_queue=None,
            )
        except (OSError, TimeoutError, WebSocketException):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(random.uniform(0, 0.5 * 2**attempt))
    raise AssertionError("unreachable")


async def send_json(connection, frame: dict) -> None:
    await connection.send(json.dumps(frame, separators=(",", ":")))


async def bounded(coroutines, limit: int) -> list:
    """Run coroutines with at most `limit` at once (a crowd of handshakes overflows listen backlogs)."""
    gate = asyncio.Semaphore(limit)

    async def one(coroutine):
        async with gate:
            return await coroutine

    return await asyncio.gather(*(one(c) for c in coroutines), return_exceptions=True)


async def sse_post(port: int, path: str, body: dict, headers: dict):
    """POST and yield each SSE record's `data` as it arrives (HTTP/1.1, chunked or not); raises on non-200."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    payload = json.dumps(body).encode()
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(payload)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
    try:
        status_line = await reader.readline()
        if b" 200 " not in status_line:
            raise RuntimeError(f"SSE POST answered {status_line!r}")
        response_headers = (await reader.readuntil(b"\r\n\r\n")).lower()
        chunks = _dechunk(reader) if b"transfer-encoding: chunked" in response_headers else _raw(reader)
        buffer = b""
        async for piece in chunks:
            buffer += piece
            while b"\n\n" in buffer:
                record, buffer = buffer.split(b"\n\n", 1)
                data = [line[5:].strip() for line in record.split(b"\n") if line.startswith(b"data:")]
                if data:
                    yield b"\n".join(data).decode()
    finally:
        writer.close()


async def _dechunk(reader: asyncio.StreamReader):
    while True:
        size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return
        yield await reader.readexactly(size)
        await reader.readexactly(2)


async def _raw(reader: asyncio.StreamReader):
    while piece := await reader.read(65536):
        yield piece
