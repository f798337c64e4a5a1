"""WebSocket routes."""

from channels.auth import AuthMiddlewareStack
from django.urls import path

from chat.transports.agent import AgentConsumer
from chat.transports.customer import CustomerConsumer

websocket_urlpatterns = [
    # The widget authenticates with its signed token in `hello`; loading a session and user for it
    # would cost a database round trip on every connect for nothing.
    path("ws/widget/", CustomerConsumer.as_asgi()),
    path("ws/agent/", AuthMiddlewareStack(AgentConsumer.as_asgi())),
]
