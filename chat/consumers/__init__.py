"""WebSocket consumers: thin shells that parse, authorize, call a service and answer."""
