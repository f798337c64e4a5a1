"""Black-box clients for a running Parley: HTTP with httpx, WebSockets with the websockets library."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import httpx
import websockets

from chat.protocol.schemas import AGENT, CUSTOMER, SchemaError, check_event

#: Who a socket's frames are for, by its path: their shapes differ (docs/protocol.md, sections 3 and 4).
AUDIENCE_OF_PATH = {"/ws/widget/": CUSTOMER, "/ws/agent/": AGENT}


def checked_frame(raw: str | bytes, audience: str | None = None) -> dict:
    """Parse a frame the server sent and hold it to the wire contract (chat/protocol/schemas.py)."""
    frame = json.loads(raw)
    try:
        check_event(frame, audience=audience)
    except SchemaError as exc:
        raise AssertionError(f"the server sent a frame outside docs/protocol.md: {exc}\n{frame!r}") from None
    return frame


async def visitor_token(base_url: str, origin: str, site_key: str = "demo-shop") -> str:
    """Start a visitor session the way the widget does."""
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{base_url}/api/widget/{site_key}/session", json={}, headers={"Origin": origin})
        response.raise_for_status()
        return response.json()["visitor_token"]


async def login_cookie(base_url: str, username: str, password: str) -> str:
    """Log in through the admin login form and return the Cookie header a browser would send."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        page = await client.get("/accounts/login/")
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        response = await client.post(
            "/accounts/login/",
            data={"csrfmiddlewaretoken": csrf, "username": username, "password": password, "next": "/"},
        )
        assert response.status_code == 302, response.text[:500]
        return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


class Socket:
    """A JSON WebSocket client that keeps every frame it receives, each checked against the protocol."""

    def __init__(self, connection):
        self.connection = connection
        self.frames: list[dict] = []
        request = getattr(connection, "request", None)  # the handshake: its path says whose socket this is
        self.audience = AUDIENCE_OF_PATH.get(request.path.split("?")[0]) if request is not None else None

    async def send(self, frame: dict) -> None:
        await self.connection.send(json.dumps(frame))

    async def until(self, predicate, timeout: float = 15) -> dict:
        """Receive frames until one matches (a type name or a function)."""
        if isinstance(predicate, str):
            wanted = predicate
            predicate = lambda frame: frame.get("type") == wanted  # noqa: E731
        async with asyncio.timeout(timeout):
            while True:
                frame = checked_frame(await self.connection.recv(), self.audience)
                self.frames.append(frame)
                if predicate(frame):
                    return frame

    async def send_message(self, body: str, **extra) -> dict:
        client_id = str(uuid.uuid4())
        await self.send({"type": "message.send", "client_id": client_id, "body": body, **extra})
        return await self.until(lambda f: f.get("type") == "message.ack" and f["client_id"] == client_id)

    async def close(self) -> None:
        await self.connection.close()


async def customer_socket(port: int, token: str, origin: str, cursor: str = "0.0") -> tuple[Socket, dict]:
    """Open /ws/widget/, say hello, return the socket and its welcome."""
    connection = await websockets.connect(f"ws://127.0.0.1:{port}/ws/widget/", origin=origin)
    socket = Socket(connection)
    await socket.send({"type": "hello", "token": token, "cursor": cursor})
    return socket, await socket.until("welcome")


async def agent_socket(port: int, cookie: str) -> tuple[Socket, dict]:
    """Open /ws/agent/ with a session cookie from the same origin, return the socket and its welcome."""
    connection = await websockets.connect(
        f"ws://127.0.0.1:{port}/ws/agent/", origin=f"http://127.0.0.1:{port}", additional_headers={"Cookie": cookie}
    )
    socket = Socket(connection)
    return socket, await socket.until("welcome")
