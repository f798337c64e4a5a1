"""The raw floor: a bare `websockets` server that fans each frame out to its room from an in-process dict.

No Channels, no Django, no JSON parsing: the least a Python relay can do. Run with `--port P`.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections import defaultdict

from websockets.asyncio.server import broadcast, serve

rooms: dict[str, set] = defaultdict(set)


async def relay(connection) -> None:
    """Every frame from one socket goes to every socket with the same path, the sender included."""
    members = rooms[connection.request.path]
    members.add(connection)
    try:
        async for frame in connection:
            broadcast(members, frame)
    finally:
        members.discard(connection)


async def main(port: int, backlog: int) -> None:
    """Serve until SIGTERM."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    # Like Daphne: no compression offered by the clients, the same 20 s keep-alive pings.
    async with serve(relay, "127.0.0.1", port, compression=None, ping_interval=20, max_queue=None, backlog=backlog):
        print("listening", flush=True)
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backlog", type=int, default=1024)
    args = parser.parse_args()
    asyncio.run(main(args.port, args.backlog))
