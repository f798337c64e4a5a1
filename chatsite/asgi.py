"""ASGI entry point: HTTP through Django, WebSockets through consumers, the `ai-reply` channel to the worker."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
# Set Django up before importing anything that touches models.
django_asgi_app = get_asgi_application()

from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter

from chat.realtime.groups import REPLY_CHANNEL
from chat.routing import websocket_urlpatterns
from chat.transports.ai_worker import AIReplyConsumer
from chat.transports.background import BackgroundTasksMiddleware

# `manage.py runworker ai-reply` and the embedded worker both dispatch through this router.
channel_application = ChannelNameRouter({REPLY_CHANNEL: AIReplyConsumer.as_asgi()})

application = BackgroundTasksMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": URLRouter(websocket_urlpatterns),
            "channel": channel_application,
        }
    ),
    channel_application,
)
