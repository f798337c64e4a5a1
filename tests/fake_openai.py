"""A fake OpenAI-compatible chat-completions server: a real socket, hand-written HTTP/1.1, stdlib only.

Use it from tests (sync or async) as a context manager; it runs its own event loop in a background thread:

    with FakeOpenAI(tokens=["Hel", "lo"], delay=0.02) as server:
        provider = OpenAIProvider(base_url=server.base_url, ...)
        ...
        server.requests[0].body["model"]

Or standalone, for benchmarks and multi-process integration tests (prints its base URL, serves until killed):

    python tests/fake_openai.py --port 0 --tokens-per-second 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import threading
import time
from dataclasses import dataclass, field, fields, replace
from typing import Any

DEFAULT_TOKENS = ["Our", " store", " ships", " within", " two", " business", " days", "."]
MALFORMED_CHUNK = '{"choices": [{"delta": {"content": "oops'
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_DEFAULT_ERRORS = {
    401: "Incorrect API key provided.",
    403: "You are not allowed to use this model.",
    429: "Rate limit reached for requests.",
    500: "The server had an error.",
}


@dataclass(frozen=True)
class Script:
    """How the server answers: what to stream, how fast, and which failure to act out."""

    tokens: tuple[str, ...] = tuple(DEFAULT_TOKENS)
    delay: float = 0.0  # seconds before each token
    initial_delay: float = 0.0  # seconds before the response headers
    status: int = 200  # non-200: answer with an OpenAI-style JSON error instead
    error_message: str | None = None  # "{api_key}" is replaced by the bearer token received
    malformed_at: int | None = None  # send broken JSON in place of this token index
    pause_after: int | None = None  # after this many tokens, wait until release() is called
    abort_after: int | None = None  # after this many tokens, drop the connection mid-stream
    omit_done: bool = False  # end the body cleanly but without "data: [DONE]"


@dataclass
class ReceivedRequest:
    """One HTTP request as the server parsed it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: Any  # parsed JSON, or None if the body was not JSON


@dataclass
class StreamRecord:
    """What happened on one response: tokens written and whether the client went away early."""

    request: ReceivedRequest
    started_at: float = field(default_factory=time.monotonic)
    sent: int = 0  # content tokens handed to the socket so far
    last_write_at: float | None = None
    closed_at: float | None = None  # when the server noticed the client had closed early
    closed_early: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)  # set when handling ends, any way


class ClientGone(Exception):
    """The client closed its end of the connection before the response was complete."""


class FakeOpenAI:
    """The fake server; configure with Script fields as keyword arguments, then use `with` to run it."""

    def __init__(
        self,
        tokens: list[str] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        keep_records: bool = True,
        **script: Any,
    ):
        """`keep_records=False` (the command line's choice) stops `requests`/`streams` growing forever."""
        self.host = host
        self.port = port
        self.keep_records = keep_records
        self.script = Script()
        self.configure(tokens=tokens, **script)
        self.requests: list[ReceivedRequest] = []
        self.streams: list[StreamRecord] = []
        self._changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._gate: asyncio.Event | None = None
        self._handlers: set[asyncio.Task] = set()

    # --- control, from any thread -------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The URL to give a client as its OpenAI base URL (ends in /v1)."""
        return f"http://{self.host}:{self.port}/v1"

    def configure(self, tokens: list[str] | None = None, **changes: Any) -> None:
        """Change how later requests are answered; also re-arms the pause gate."""
        known = {f.name for f in fields(Script)}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"unknown FakeOpenAI options: {sorted(unknown)}")
        if tokens is not None:
            changes["tokens"] = tuple(tokens)
        self.script = replace(self.script, **changes)
        if getattr(self, "_loop", None) is not None:
            self._loop.call_soon_threadsafe(self._gate.clear)

    def release(self) -> None:
        """Let streams waiting at `pause_after` continue."""
        assert self._loop is not None, "server not started"
        self._loop.call_soon_threadsafe(self._gate.set)

    def wait_requests(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Block until at least `count` requests have arrived."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.requests) >= count, timeout)

    def wait_sent(self, count: int, timeout: float = 5.0, index: int = -1) -> bool:
        """Block until stream `index` has written at least `count` tokens."""
        with self._changed:
            return self._changed.wait_for(lambda: bool(self.streams) and self.streams[index].sent >= count, timeout)

    def wait_closed(self, timeout: float = 5.0, since: float | None = None, index: int = -1) -> float | None:
        """Wait until the client closed stream `index` early; seconds from `since` (a time.monotonic()
        taken at cancel; default: the last write) to the server noticing, or None if it never did."""
        deadline = time.monotonic() + timeout
        with self._changed:
            if not self._changed.wait_for(lambda: bool(self.streams), timeout):
                return None
            record = self.streams[index]
        if not record.closed_early.wait(max(0.0, deadline - time.monotonic())):
            return None
        start = since if since is not None else (record.last_write_at or record.started_at)
        return record.closed_at - start

    def start(self) -> FakeOpenAI:
        """Start listening in a background thread; returns self with `port` filled in."""
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="fake-openai", daemon=True)
        self._thread.start()
        if not ready.wait(5):
            raise RuntimeError("fake OpenAI server did not start")
        return self

    def stop(self) -> None:
        """Drop open connections, stop listening, and join the thread."""
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- the server, on its own loop --------------------------------------------------------

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        loop.run_until_complete(self._listen())
        self._loop = loop
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _listen(self) -> None:
        self._gate = asyncio.Event()
        self._server = await asyncio.start_server(self._on_connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._handlers.add(task)
        try:
            request = await _read_request(reader)
            if request is not None:
                self._record(self.requests, request)
                await self._respond(request, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    def _record(self, target: list, item: Any) -> None:
        with self._changed:
            if self.keep_records:
                target.append(item)
            self._changed.notify_all()

    def _touch(self) -> None:
        with self._changed:
            self._changed.notify_all()

    async def _respond(
        self, request: ReceivedRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        if request.method != "POST" or not request.path.rstrip("/").endswith("/chat/completions"):
            await _send_json(writer, 404, {"error": {"message": f"no route {request.method} {request.path}"}})
            return
        script = self.script  # a snapshot: configure() during the response does not change it
        record = StreamRecord(request)
        self._record(self.streams, record)
        # Watch for EOF while answering, so a client that goes away is noticed even between writes.
        answer = asyncio.ensure_future(self._answer(script, request, record, writer))
        gone = asyncio.ensure_future(_wait_eof(reader))
        try:
            done, _ = await asyncio.wait({answer, gone}, return_when=asyncio.FIRST_COMPLETED)
            if gone in done and not answer.done():
                answer.cancel()
                self._mark_closed(record)
            elif answer in done and isinstance(answer.exception(), (ClientGone, ConnectionError)):
                self._mark_closed(record)
        finally:
            for task in (answer, gone):
                task.cancel()
            await asyncio.gather(answer, gone, return_exceptions=True)
            record.finished.set()
            self._touch()

    def _mark_closed(self, record: StreamRecord) -> None:
        record.closed_at = time.monotonic()
        record.closed_early.set()
        self._touch()

    async def _answer(
        self, script: Script, request: ReceivedRequest, record: StreamRecord, writer: asyncio.StreamWriter
    ) -> None:
        if script.initial_delay:
            await asyncio.sleep(script.initial_delay)
        if script.status != 200:
            await _send_json(writer, script.status, _error_body(script, request))
            return
        body = request.body if isinstance(request.body, dict) else {}
        tokens = list(script.tokens)
        limit = body.get("max_tokens")
        truncated = isinstance(limit, int) and len(tokens) > limit
        tokens = tokens[:limit] if truncated else tokens
        model = str(body.get("model", "fake-model"))
        if not body.get("stream"):
            await _send_json(writer, 200, _completion(model, "".join(tokens), truncated))
            return
        await self._stream(script, model, tokens, truncated, record, writer)

    async def _stream(
        self,
        script: Script,
        model: str,
        tokens: list[str],
        truncated: bool,
        record: StreamRecord,
        writer: asyncio.StreamWriter,
    ) -> None:
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        await _write(writer, head.encode())
        await _write_chunk(writer, _event(_chunk(model, {"role": "assistant", "content": ""})))
        for index, token in enumerate(tokens):
            if index == script.pause_after:
                await self._gate.wait()
            if index == script.abort_after:
                writer.transport.abort()  # no chunked terminator: the client sees a truncated body
                return
            if script.delay:
                await asyncio.sleep(script.delay)
            data = MALFORMED_CHUNK if index == script.malformed_at else _chunk(model, {"content": token})
            # Count before writing: once written, the client may react before this thread runs again.
            record.sent += 1
            record.last_write_at = time.monotonic()
            self._touch()
            await _write_chunk(writer, _event(data))
        await _write_chunk(writer, _event(_chunk(model, {}, "length" if truncated else "stop")))
        if not script.omit_done:
            await _write_chunk(writer, _event("[DONE]"))
        await _write(writer, b"0\r\n\r\n")


# --- HTTP and SSE helpers ---------------------------------------------------------------------


async def _read_request(reader: asyncio.StreamReader) -> ReceivedRequest | None:
    """Parse one HTTP/1.1 request with a Content-Length body (all httpx sends for JSON)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    raw = await reader.readexactly(int(headers.get("content-length", "0")))
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return ReceivedRequest(method, path, headers, body)


async def _wait_eof(reader: asyncio.StreamReader) -> None:
    """Return when the client closes its side (the client sends nothing after its request)."""
    try:
        while await reader.read(1024):
            pass
    except ConnectionError:
        pass


async def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
    if writer.is_closing():
        raise ClientGone()
    writer.write(data)
    await writer.drain()


async def _write_chunk(writer: asyncio.StreamWriter, data: bytes) -> None:
    await _write(writer, b"%x\r\n%s\r\n" % (len(data), data))


async def _send_json(writer: asyncio.StreamWriter, status: int, payload: dict) -> None:
    body = json.dumps(payload).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    await _write(writer, head.encode() + body)


def _event(data: str) -> bytes:
    return f"data: {data}\n\n".encode()


def _chunk(model: str, delta: dict, finish_reason: str | None = None) -> str:
    return json.dumps(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
    )


def _completion(model: str, text: str, truncated: bool) -> dict:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "length" if truncated else "stop",
            }
        ],
    }


def _error_body(script: Script, request: ReceivedRequest) -> dict:
    auth = request.headers.get("authorization", "")
    api_key = auth.removeprefix("Bearer ").strip()
    message = script.error_message or _DEFAULT_ERRORS.get(script.status, "Request failed.")
    return {"error": {"message": message.replace("{api_key}", api_key), "type": "fake_error", "code": script.status}}


def main() -> None:
    """Serve forever with the options given on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tokens-per-second", type=float, default=0.0, help="0: as fast as possible")
    parser.add_argument("--reply", default="".join(DEFAULT_TOKENS), help="text to stream, one word per token")
    parser.add_argument("--initial-delay", type=float, default=0.0)
    parser.add_argument("--status", type=int, default=200)
    args = parser.parse_args()
    words = args.reply.split(" ")
    tokens = [words[0]] + [" " + word for word in words[1:]]
    delay = 1.0 / args.tokens_per_second if args.tokens_per_second > 0 else 0.0
    server = FakeOpenAI(
        tokens,
        host=args.host,
        port=args.port,
        keep_records=False,
        delay=delay,
        initial_delay=args.initial_delay,
        status=args.status,
    ).start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a parent's terminate() is a clean stop
    print(server.base_url, flush=True)  # a parent process reads this line to learn the port
    try:
        threading.Event().wait()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
