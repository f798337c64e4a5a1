"""A real HTTP server for the webhook tests: it records what it is sent and answers as each test plans."""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HANG = "hang"


@dataclass
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """Answers each request with the next planned status (or hangs until closed); then 200 for ever after."""

    def __init__(self, plan: list = ()):
        self.plan = list(plan)
        self.received: queue.Queue[Received] = queue.Queue()
        self.release = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    answer = receiver.plan.pop(0) if receiver.plan else 200
                receiver.received.put(Received({k.lower(): v for k, v in self.headers.items()}, body))
                if answer == HANG:
                    receiver.release.wait(30)  # until the test ends: the sender must give up first
                    return
                self.send_response(answer)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/parley?source=tests"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def take(self, timeout: float = 5) -> Received:
        """The next request received (waiting for it), or AssertionError."""
        try:
            return self.received.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("the receiver got nothing") from None

    def all(self) -> list[Received]:
        """Every request received so far."""
        got = []
        while not self.received.empty():
            got.append(self.received.get_nowait())
        return got
