"""A fake OpenAI-compatible streaming provider whose tokens carry the wall-clock time they were sent.

Token 0 is "r<arrival> t<sent> ", every later one "t<sent> ", paced at `--rate` tokens per second from
the request's arrival. The question's first word (the last user message) names the stream; `GET /stats`
answers per name: arrival, first token, end or early close (wall clock) and tokens sent.
Run: `python -m bench.fake_llm --tokens 150 --rate 50` prints its base URL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time

# Chunks are formatted from fixed pieces: json.dumps for each of thousands of tokens a second would
# make the fake provider, not the system under test, the bottleneck.
_CHUNK_HEAD = (
    'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":0,"model":"bench",'
    '"choices":[{"index":0,"delta":{"content":"'
)
_CHUNK_TAIL = '"},"finish_reason":null}]}\n\n'
_FINISH = (
    'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":0,"model":"bench",'
    '"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
)
_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
)


class Provider:
    """Serves streams and remembers what happened to each."""

    def __init__(self, tokens: int, rate: float):
        self.tokens = tokens
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.records: dict[str, dict] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One request per connection, as httpx sends it."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")
            headers = dict(line.lower().split(":", 1) for line in header_lines if ":" in line)
            body = await reader.readexactly(int(headers.get("content-length", "0").strip() or 0))
            if request_line.startswith("GET /stats"):
                payload = json.dumps(self.records).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                    b"Connection: close\r\n\r\n%s" % (len(payload), payload)
                )
                await writer.drain()
                return
            await self.stream(_question_name(body), reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            writer.close()

    async def stream(self, name: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Send the tokens on schedule; notice at once if the client closes early."""
        record = {"arrival": time.time(), "first": None, "end": None, "closed": None, "sent": 0}
        self.records[name] = record
        sending = asyncio.ensure_future(self._send(record, writer))
        gone = asyncio.ensure_future(reader.read(1))  # the client sends nothing more: EOF means it closed
        await asyncio.wait({sending, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not sending.done():
            record["closed"] = time.time()
            sending.cancel()
        elif isinstance(sending.exception(), ConnectionError):
            record["closed"] = time.time()
        gone.cancel()
        await asyncio.gather(sending, gone, return_exceptions=True)

    async def _send(self, record: dict, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        writer.write(_HEAD)
        start = loop.time()
        for index in range(self.tokens):
            wait = start + index * self.interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            now = time.time()
            text = f"r{record['arrival']:.6f} t{now:.6f} " if index == 0 else f"t{now:.6f} "
            if index == 0:
                record["first"] = now
            _write_chunk(writer, _CHUNK_HEAD + text + _CHUNK_TAIL)
            record["sent"] = index + 1
            await writer.drain()
        _write_chunk(writer, _FINISH)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        record["end"] = time.time()


def _write_chunk(writer: asyncio.StreamWriter, text: str) -> None:
    data = text.encode()
    writer.write(b"%x\r\n%s\r\n" % (len(data), data))


def _question_name(body: bytes) -> str:
    """The first word of the last user message: the benchmark's id for this stream."""
    messages = json.loads(body).get("messages", [])
    users = [m.get("content", "") for m in messages if m.get("role") == "user"]
    words = (users[-1] if users else "").split()
    return words[0] if words else f"anon-{time.time()}"


async def main(tokens: int, rate: float, port: int) -> None:
    """Serve until SIGTERM; print the base URL first."""
    provider = Provider(tokens, rate)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    server = await asyncio.start_server(provider.handle, "127.0.0.1", port, backlog=4096)
    print(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1", flush=True)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=150)
    parser.add_argument("--rate", type=float, default=50.0, help="tokens per second per stream")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(main(args.tokens, args.rate, args.port))
