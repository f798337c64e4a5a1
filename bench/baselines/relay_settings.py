"""Minimal settings for the baseline apps: Channels and a channel layer, no database, no middleware.

The layer is configured like Parley's (same backend, capacity and Redis options), so only the app differs.
"""

import os

SECRET_KEY = "bench-baseline-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["channels"]
DATABASES = {}
USE_TZ = True
ASGI_APPLICATION = "bench.baselines.relay_asgi.application"

_CAPACITY = int(os.environ.get("CHANNEL_LAYER_CAPACITY", "1000"))
if os.environ.get("REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": os.environ["REDIS_URL"], "socket_timeout": 30, "socket_connect_timeout": 5}],
                "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "relay"),
                "capacity": _CAPACITY,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "chat.realtime.memory_layer.SweptInMemoryChannelLayer",
            "CONFIG": {"capacity": _CAPACITY},
        }
    }

LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
