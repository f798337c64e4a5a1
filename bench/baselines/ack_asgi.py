"""The acknowledged stream: the seed article's protocol, where the client acks every token before the next.

The customer's socket asks; its consumer streams the provider's answer and sends each token to the
room's group (customer and agent sockets), then waits for the customer's ack of that token. No database.
Client frames: {"type": "ask", "q"}, {"type": "ack", "i"}, {"type": "stop"}.
Server frames: {"type": "token", "i", "text"}, {"type": "end", "status"}.
Sockets: /ws/ack/?rooms=1,2,3 (an agent watches several rooms; a customer asks in its first).
Served by Daphne with bench.baselines.relay_settings; BENCH_AI_BASE_URL names the provider.
"""

import asyncio
import json
import os
from urllib.parse import parse_qs

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.baselines.relay_settings")
django.setup()

import httpx
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import path

ACK_TIMEOUT = 30.0


class AckStreamConsumer(AsyncWebsocketConsumer):
    """Streams a provider's answer token by token, each released only by the customer's ack."""

    async def connect(self):
        """Join the rooms named in the query string."""
        query = parse_qs(self.scope["query_string"].decode())
        self.rooms = [f"ack.{int(room)}" for room in query.get("rooms", ["0"])[0].split(",")]
        self.acked = asyncio.Event()
        self.generation: asyncio.Task | None = None
        for room in self.rooms:
            await self.channel_layer.group_add(room, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        """Leave the rooms and stop generating."""
        if self.generation:
            self.generation.cancel()
        for room in self.rooms:
            await self.channel_layer.group_discard(room, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        """ask starts a stream, ack releases the next token, stop cancels."""
        frame = json.loads(text_data)
        if frame["type"] == "ask":
            self.generation = asyncio.create_task(self.generate(frame["q"]))
        elif frame["type"] == "ack":
            self.acked.set()
        elif frame["type"] == "stop" and self.generation:
            self.generation.cancel()

    async def generate(self, question: str) -> None:
        """Pass each provider token to the room, one at a time, waiting for its ack."""
        room, index, status = self.rooms[0], 0, "complete"
        try:
            async with httpx.AsyncClient(timeout=ACK_TIMEOUT) as client:
                async with client.stream(
                    "POST",
                    f"{os.environ['BENCH_AI_BASE_URL']}/chat/completions",
                    json={"model": "bench", "stream": True, "messages": [{"role": "user", "content": question}]},
                ) as response:
                    async for line in response.aiter_lines():
                        if not line.startswith("data: ") or line == "data: [DONE]":
                            continue
                        text = json.loads(line[6:])["choices"][0]["delta"].get("content")
                        if not text:
                            continue
                        self.acked.clear()
                        await self.channel_layer.group_send(room, {"type": "token.out", "i": index, "text": text})
                        await asyncio.wait_for(self.acked.wait(), ACK_TIMEOUT)
                        index += 1
        except asyncio.CancelledError:
            status = "stopped"
        except Exception:
            status = "failed"
        await self.channel_layer.group_send(room, {"type": "stream.end", "status": status})

    async def token_out(self, event):
        """A token for this room: to the client."""
        await self.send(text_data=json.dumps({"type": "token", "i": event["i"], "text": event["text"]}))

    async def stream_end(self, event):
        """The stream ended: to the client."""
        await self.send(text_data=json.dumps({"type": "end", "status": event["status"]}))


application = ProtocolTypeRouter({"websocket": URLRouter([path("ws/ack/", AckStreamConsumer.as_asgi())])})
