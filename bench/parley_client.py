"""Opening Parley's sockets the way the widget and the dashboard do, for load."""

from __future__ import annotations

import asyncio
import json

from bench.wire import send_json, ws_open

WAIT = 60.0
DESK_PING_S = 25.0  # as static/desk/socket.js: keeps the agent present (else conversations go back to the queue)
_pingers: set[asyncio.Task] = set()


async def until(connection, kind: str, timeout: float = WAIT, skipped: list | None = None) -> dict:
    """Read frames until one of type `kind` (others go to `skipped`); RuntimeError on an error frame."""
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await connection.recv())
            if frame.get("type") == kind:
                return frame
            if skipped is not None:
                skipped.append(frame)
            if frame.get("type") == "error":
                raise RuntimeError(f"server error while waiting for {kind}: {frame}")


async def customer(port: int, token: str, cursor: str = "0.0", conversation: int | None = None):
    """A widget socket after hello: (connection, welcome)."""
    connection = await ws_open(f"ws://127.0.0.1:{port}/ws/widget/")
    hello = {"type": "hello", "token": token, "cursor": cursor}
    if conversation:
        hello["conversation"] = conversation
    await send_json(connection, hello)
    early: list[dict] = []
    welcome = await until(connection, "welcome", skipped=early)
    welcome["_before"] = early  # frames the server sent ahead of its welcome (the protocol says none)
    return connection, welcome


async def agent(port: int, cookie: str, conversations: list[int]):
    """A dashboard socket subscribed to the given conversations."""
    connection = await ws_open(f"ws://127.0.0.1:{port}/ws/agent/", origin=f"http://127.0.0.1:{port}", cookie=cookie)
    await until(connection, "welcome")
    for conversation in conversations:
        await send_json(connection, {"type": "subscribe", "conversation": conversation, "cursor": "0.0"})
        await until(connection, "subscribed")
    pinger = asyncio.create_task(_ping_forever(connection))
    _pingers.add(pinger)
    pinger.add_done_callback(_pingers.discard)
    return connection


async def _ping_forever(connection) -> None:
    """Ping like the desk does until the socket closes."""
    try:
        while True:
            await asyncio.sleep(DESK_PING_S)
            await send_json(connection, {"type": "ping"})
    except Exception:
        return  # closed: the measurement is over


def by_site(conversations: list[dict]) -> dict[int, list[dict]]:
    """Fixture conversations grouped by their site index."""
    grouped: dict[int, list[dict]] = {}
    for conversation in conversations:
        grouped.setdefault(conversation["site"], []).append(conversation)
    return grouped
