"""What a lost channel layer looks like (Redis restarting or unreachable)."""

import redis.exceptions

# Connection-level failures only: a full channel (ChannelFull) is not the layer being gone.
LAYER_ERRORS = (ConnectionError, OSError, TimeoutError, redis.exceptions.ConnectionError,
                redis.exceptions.TimeoutError)

# Seconds between attempts while the layer is away.
LAYER_RETRY_SECONDS = 1.0
