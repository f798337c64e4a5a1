"""The minimal relay: the Channels tutorial's chat consumer (join a room's group, group_send each message).

No persistence, no auth, no cursors. Served by Daphne with bench.baselines.relay_settings.
"""

import json
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.baselines.relay_settings")
django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer
from channels.routing import ProtocolTypeRouter, URLRouter
from django.urls import re_path


class RoomConsumer(AsyncWebsocketConsumer):
    """One socket in one room; every frame goes to everyone in the room, the sender included."""

    async def connect(self):
        """Join the room named in the URL."""
        self.room_group = f"room.{self.scope['url_route']['kwargs']['room']}"
        await self.channel_layer.group_add(self.room_group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        """Leave the room."""
        await self.channel_layer.group_discard(self.room_group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        """Relay the message to the room's group."""
        message = json.loads(text_data)
        await self.channel_layer.group_send(self.room_group, {"type": "room.message", "message": message})

    async def room_message(self, event):
        """A message from the group: pass it to the client."""
        await self.send(text_data=json.dumps(event["message"]))


application = ProtocolTypeRouter(
    {
        "websocket": URLRouter([re_path(r"^ws/room/(?P<room>[\w-]{1,80})/$", RoomConsumer.as_asgi())]),
    }
)
