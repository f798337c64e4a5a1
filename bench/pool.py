"""Client processes: one machine core cannot hold and drive thousands of sockets with a server beside it.

Each process runs `target(share, link)` on its own event loop; `link` passes small messages to the
coordinator, which steps every process through the same phases.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import traceback
from typing import Any


class Link:
    """The child's end: report to the coordinator, wait for its next word."""

    def __init__(self, connection):
        self.connection = connection

    def report(self, message: Any) -> None:
        self.connection.send(message)

    async def wait(self, timeout: float) -> Any:
        """The coordinator's next message, or TimeoutError."""
        ready = await asyncio.get_running_loop().run_in_executor(None, self.connection.poll, timeout)
        if not ready:
            raise TimeoutError("the coordinator said nothing")
        return self.connection.recv()


def _child(target, share: dict, connection) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        result = asyncio.run(target(share, Link(connection)))
        connection.send({"done": result})
    except BaseException:
        connection.send({"error": traceback.format_exc()[-3000:]})


class ClientPool:
    """Start one process per share; `gather` collects one message from each, `tell` speaks to all."""

    def __init__(self, target, shares: list[dict]):
        context = multiprocessing.get_context("spawn")  # no inherited threads or sockets from the coordinator
        self.links = []
        self.processes = []
        for share in shares:
            parent, child = context.Pipe()
            process = context.Process(target=_child, args=(target, share, child), daemon=True)
            process.start()
            self.links.append(parent)
            self.processes.append(process)

    def gather(self, timeout: float) -> list[Any]:
        """One message from every process; RuntimeError if one failed, TimeoutError if one is silent."""
        deadline = time.monotonic() + timeout
        messages = []
        for link in self.links:
            if not link.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError("a client process did not report in time")
            message = link.recv()
            if isinstance(message, dict) and "error" in message:
                raise RuntimeError(f"a client process failed:\n{message['error']}")
            messages.append(message)
        return messages

    def results(self, timeout: float) -> list[Any]:
        """Each process's final result."""
        return [message["done"] for message in self.gather(timeout)]

    def tell(self, message: Any) -> None:
        for link in self.links:
            link.send(message)

    def close(self) -> None:
        """Wait briefly for the processes, then end any that linger (they are ours alone)."""
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def split(items: list, parts: int) -> list[list]:
    """`items` in `parts` contiguous slices of near-equal size (some may be empty)."""
    size, extra = divmod(len(items), parts)
    slices, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        slices.append(items[start:end])
        start = end
    return slices
