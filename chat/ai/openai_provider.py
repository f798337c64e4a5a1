"""The `openai` provider: any OpenAI-compatible chat-completions endpoint, streamed over SSE."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import math
import os
import re
import ssl
import urllib.parse
import urllib.request
import weakref
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import certifi
from yarl import URL

from chat.ai.answers import citation
from chat.ai.base import UNANSWERED, Outcome, Passage, Provider, ProviderError, ReplyRequest, Source, Turn

logger = logging.getLogger(__name__)

NO_ANSWER = "[NO_ANSWER]"
# A citation as asked for, `[#12]`, or as models sometimes write several at once, `[#12, #7]`.
_CITATION = re.compile(r"\[#\d{1,9}(?:, ?#?\d{1,9})*\]")
_CITED_ID = re.compile(r"\d+")
# The start of a citation that later text may complete: held back rather than shown in halves.
_CITATION_START = re.compile(r"\[(?:#(?:\d{1,9}(?:, ?#?\d{1,9})*(?:, ?#?)?)?)?\Z")
_LANGUAGES = {"en": "English", "zh-hans": "Simplified Chinese (简体中文)"}
_ERROR_DETAIL_LIMIT = 200  # characters of a provider's error message worth showing to an agent
_ERROR_BODY_LIMIT = 8192  # bytes of an error body worth reading
_KEY_PREFIX_MIN = 4  # a cut-off key this long at the end of a message is still masked
_STATUS_HINTS = {
    400: "bad request",
    401: "unauthorized: check the API key",
    403: "forbidden: check the API key and model access",
    404: "not found: check the base URL and model",
    408: "request timeout",
    413: "request too large",
    422: "unprocessable request",
    429: "rate limited",
}
_INSTRUCTIONS = (
    "Answer the customer's question using only the knowledge-base articles below; do not make anything up. "
    "Each article starts with its id, like [#12]. Right after the sentence that uses an article, write that "
    "article's id in the same form, e.g. [#12]. If the articles do not answer the question, reply with exactly "
    f"{NO_ANSWER} and nothing else."
)


# One connection pool per event loop (a pool cannot cross loops): a client per reply would build a
# TLS context and a new connection each time, milliseconds of event-loop time under load.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = weakref.WeakKeyDictionary()


def _shared_client() -> aiohttp.ClientSession:
    """This event loop's HTTP client for providers (no cap on connections: every reply streams at once)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.closed:
        # trust_env stays off: it would read ~/.netrc and the proxy settings in a thread on every request,
        # and a netrc entry for the provider would clash with our Authorization header. _env_proxy() instead.
        client = _clients[loop] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, ssl=_ssl_context()))
    return client


async def close_shared_clients() -> None:
    """Close this event loop's provider HTTP client, if it has one (test teardown, worker shutdown)."""
    client = _clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.close()


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """CA certificates from SSL_CERT_FILE or SSL_CERT_DIR if set, else certifi's bundle."""
    # certifi rather than the system store: a slim host without CA certificates still reaches its provider.
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    return ssl.create_default_context(cafile=certifi.where())


@functools.cache
def _env_proxy(url: str) -> URL | None:
    """The proxy HTTPS_PROXY/HTTP_PROXY/NO_PROXY name for `url` (with its credentials, if any), or None."""
    # Looked up once per URL: a proxy configured in the environment keeps working, at no cost per reply.
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or (parts.hostname and urllib.request.proxy_bypass(parts.hostname)):
        return None
    # aiohttp sends credentials written in the proxy URL to the proxy, for plain and tunnelled requests alike.
    return URL(proxy if "://" in proxy else f"http://{proxy}")  # "proxy.internal:3128" is HTTP, as for curl


class OpenAIProvider(Provider):
    """Streams a reply from an OpenAI-compatible `/chat/completions` endpoint."""

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str,
        system_prompt: str,
        max_tokens: int,
        timeout: float,
        first_token_timeout: float | None = None,
    ):
        """`timeout` bounds each connect/read; `first_token_timeout` (default: `timeout`) bounds the whole
        wait from sending the request to the first piece of answer text."""
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.system_prompt = system_prompt
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.first_token_timeout = timeout if first_token_timeout is None else first_token_timeout
        self._api_key = api_key
        # No rounding up to whole seconds (aiohttp's default above 5 s): a 10 s timeout means 10 s.
        self._client_timeout = aiohttp.ClientTimeout(connect=timeout, sock_read=timeout, ceil_threshold=math.inf)

    def __repr__(self) -> str:
        return f"OpenAIProvider(base_url={self.base_url!r}, model={self.model!r})"  # never the key

    # --- request ---------------------------------------------------------------------------

    def build_messages(self, request: ReplyRequest) -> list[dict[str, str]]:
        """The chat messages for a request: system prompt with passages, history, then the question."""
        messages = [{"role": "system", "content": self._system_message(request)}]
        history = list(request.history)
        # The caller may already have put the current question at the end of the history.
        if history and history[-1].role == "user" and history[-1].text.strip() == request.question.strip():
            history.pop()
        messages += [_history_message(turn) for turn in history]
        messages.append({"role": "user", "content": request.question})
        return messages

    def _system_message(self, request: ReplyRequest) -> str:
        language = _LANGUAGES.get(request.language, _LANGUAGES["en"])
        parts = [
            self.system_prompt.strip(),
            _INSTRUCTIONS,
            f"Always answer in {language}, whatever the language of the question or the articles.",
        ]
        parts.append("Knowledge-base articles:\n\n" + _format_passages(request.passages))
        return "\n\n".join(part for part in parts if part)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", "Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _payload(self, request: ReplyRequest) -> dict[str, Any]:
        return {
            "model": self.model,
            "stream": True,
            "max_tokens": self.max_tokens,
            "messages": self.build_messages(request),
        }

    def _body(self, request: ReplyRequest) -> bytes:
        # Compact UTF-8 rather than \u escapes: passages and history in Greek or Japanese take half the bytes or less.
        return json.dumps(self._payload(request), ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()

    # --- streaming -------------------------------------------------------------------------

    async def stream(self, request: ReplyRequest) -> AsyncIterator[str | Outcome]:
        """Yield answer text as it arrives, then its citation and Outcome; UNANSWERED if the model cannot answer."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.first_token_timeout
        reply = _ReplyFilter()
        logger.debug(
            "openai request: model=%s passages=%d history=%d", self.model, len(request.passages), len(request.history)
        )
        url = f"{self.base_url}/chat/completions"
        try:
            # Everything entered on the stack is closed on any exit, including cancellation and aclose():
            # a response closed before its end closes its HTTP connection, which is how the customer's
            # stop reaches the provider.
            async with contextlib.AsyncExitStack() as stack:
                # post() returns once the response headers are in: that wait counts towards the deadline.
                async with asyncio.timeout_at(deadline):
                    response = await _shared_client().post(
                        url,
                        data=self._body(request),
                        headers=self._headers(),
                        timeout=self._client_timeout,
                        allow_redirects=False,
                        proxy=_env_proxy(url),
                    )
                    stack.callback(_let_go, response)
                    await self._check_status(response)
                texts = await stack.enter_async_context(contextlib.aclosing(self._texts(response, deadline)))
                async for text in texts:
                    shown = reply.feed(text)
                    if shown:
                        yield shown
                    if reply.unanswered:
                        break  # the rest of the answer is not wanted: closing the stream saves tokens
        # aiohttp's own timeouts are TimeoutErrors too: they must be caught before the first-token deadline's.
        except aiohttp.ServerTimeoutError as exc:
            raise self._fail(f"provider {_timeout_kind(exc)} timeout after {self.timeout:g}s") from None
        except TimeoutError:
            raise self._fail(f"provider sent no answer within {self.first_token_timeout:g}s") from None
        except aiohttp.ClientConnectorError:
            raise self._fail(f"cannot connect to provider at {URL(self.base_url).host}") from None
        except aiohttp.ClientError as exc:  # other transport, protocol and decoding failures
            raise self._fail(f"provider connection failed ({type(exc).__name__})") from None
        for piece in _ending(reply, request):
            yield piece

    async def _texts(self, response: aiohttp.ClientResponse, deadline: float) -> AsyncIterator[str]:
        """Each non-empty `choices[0].delta.content`, until `data: [DONE]`."""
        # Whatever bytes have arrived, split into lines here: aiohttp's readline() refuses lines over 128 KiB.
        read = response.content.readany
        splitter = _LineSplitter()
        decoder = _SSEDecoder()
        waiting = True  # until the first text, every read also counts against the first-token deadline
        while True:
            if waiting:
                async with asyncio.timeout_at(deadline):
                    chunk = await read()
            else:
                chunk = await read()
            for line in splitter.feed(chunk) if chunk else splitter.finish():
                for data in decoder.feed(line):
                    if data == "[DONE]":
                        return
                    text = self._delta_text(data)
                    if text:
                        waiting = False
                        yield text
            if not chunk:
                raise self._fail("provider stream ended before [DONE]")

    def _delta_text(self, data: str) -> str | None:
        """The content text of one stream chunk; ProviderError if it is not a valid chunk."""
        try:
            chunk = json.loads(data)
        except ValueError:
            raise self._fail("provider sent a malformed stream chunk", detail=data[:_ERROR_DETAIL_LIMIT]) from None
        if not isinstance(chunk, dict):
            raise self._fail("provider sent a malformed stream chunk", detail=data[:_ERROR_DETAIL_LIMIT])
        if "error" in chunk:
            raise self._fail(f"provider error mid-stream: {self._mask(_error_message(chunk))}")
        choices = chunk.get("choices") or []  # a usage-only chunk has no choices
        if not choices:
            return None
        choice = choices[0]
        if not isinstance(choice, dict) or not isinstance(choice.get("delta") or {}, dict):
            raise self._fail("provider sent a malformed stream chunk", detail=data[:_ERROR_DETAIL_LIMIT])
        if choice.get("finish_reason") == "length":
            logger.info("openai reply cut off at max_tokens=%s", self.max_tokens)
        content = (choice.get("delta") or {}).get("content")
        if content is not None and not isinstance(content, str):
            raise self._fail("provider sent a malformed stream chunk", detail=data[:_ERROR_DETAIL_LIMIT])
        return content

    async def _check_status(self, response: aiohttp.ClientResponse) -> None:
        """Raise ProviderError for any non-2xx answer, with the provider's own message when it has one."""
        status = response.status
        if 200 <= status < 300:
            return
        hint = "server error" if status >= 500 else _STATUS_HINTS.get(status, "request failed")
        message = self._mask(_error_message(await _read_limited(response)))
        reason = f"provider returned {status} ({hint})"
        raise self._fail(f"{reason}: {message}" if message else reason)

    # --- secrets ---------------------------------------------------------------------------

    def _mask(self, text: str) -> str:
        """`text` with the API key blanked out, in case a provider echoes it back."""
        key = self._api_key
        if not key:
            return text
        text = text.replace(key, "***")
        # Shortened text may end in the first part of the key: blank that too.
        for size in range(len(key) - 1, _KEY_PREFIX_MIN - 1, -1):
            if text.endswith(key[:size]):
                return text[:-size] + "***"
        return text

    def _fail(self, reason: str, *, detail: str | None = None) -> ProviderError:
        """Log and build the error; everything that leaves here has the key masked."""
        reason = self._mask(reason)
        if detail is None:
            logger.warning("openai provider failed: %s", reason)
        else:
            logger.warning("openai provider failed: %s; got %r", reason, self._mask(detail))
        return ProviderError(reason)


class _ReplyFilter:
    """Takes the citations and the no-answer marker out of the model's text as it streams.

    Held back are only trailing whitespace (a citation may follow it, and takes it along) and a
    trailing `[...` that may still become a citation or the marker; everything else passes at once.
    """

    def __init__(self) -> None:
        self.tail = ""  # the held-back end of the text so far
        self.cited: list[int] = []  # article ids in the order first cited
        self.unanswered = False  # the model wrote the marker: nothing after it is shown
        self.shown = False  # some answer text has been passed on

    def feed(self, text: str) -> str:
        """The text that may be shown now ("" for none)."""
        if self.unanswered:
            return ""
        text, self.tail = self.tail + text, ""
        out, pos = "", 0
        while (start := text.find("[", pos)) >= 0:
            out += text[pos:start]
            if text.startswith(NO_ANSWER, start):
                self.unanswered = True
                return self._show(out.rstrip())
            if match := _CITATION.match(text, start):
                self._cite(match.group())
                out, pos = out.rstrip(" \t"), match.end()  # "days [#12]." reads "days."
                continue
            if NO_ANSWER.startswith(text[start : start + len(NO_ANSWER)]) or _CITATION_START.match(text, start):
                self.tail = text[start:]
                return self._show(out)
            out, pos = out + "[", start + 1
        return self._show(out + text[pos:])

    def _show(self, text: str) -> str:
        # Trailing whitespace waits for what follows; leading whitespace of the answer is never shown.
        kept = text.rstrip()
        text, self.tail = kept, text[len(kept) :] + self.tail
        if not self.shown:
            text = text.lstrip()
        self.shown = self.shown or bool(text)
        return text

    def _cite(self, marker: str) -> None:
        for number in _CITED_ID.findall(marker):
            if int(number) not in self.cited:
                self.cited.append(int(number))


def _ending(reply: _ReplyFilter, request: ReplyRequest) -> list[str | Outcome]:
    """What follows the answer text: the citation line and the Outcome, or UNANSWERED."""
    # A tail still held at the end is whitespace or a cut-off citation or marker: never shown.
    if reply.unanswered or not reply.shown:
        return [UNANSWERED]  # an empty answer helps nobody either
    passages = {passage.article_id: passage for passage in request.passages}
    # Ids the model made up, or remembered from elsewhere, are not sources.
    cited = [passages[number] for number in reply.cited if number in passages]
    sources = tuple(Source(passage.article_id, passage.title, passage.url) for passage in cited)
    if not sources:
        return [Outcome(kind="answered")]
    return [citation(sources, request.language), Outcome(kind="answered", sources=sources)]


class _LineSplitter:
    """Splits a byte stream into text lines at CRLF, LF or CR (the SSE line ends), however it is chunked."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []  # the unfinished last line, in the pieces it came in
        self.after_cr = False  # the last chunk ended in CR: an LF starting the next one belongs to it

    def feed(self, chunk: bytes) -> list[str]:
        """The lines this chunk completes, without their line ends."""
        if self.after_cr:
            self.after_cr = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        if b"\r" in chunk:
            self.after_cr = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = chunk.split(b"\n")
        rest = lines.pop()
        if lines and self.parts:
            self.parts.append(lines[0])
            lines[0] = b"".join(self.parts)
            self.parts = []
        if rest:
            self.parts.append(rest)
        # A line break never falls inside a UTF-8 character, so each line decodes on its own.
        return [line.decode("utf-8", "replace") for line in lines]

    def finish(self) -> list[str]:
        """The last line, if the stream ended without a line end after it."""
        line, self.parts = b"".join(self.parts), []
        return [line.decode("utf-8", "replace")] if line else []


class _SSEDecoder:
    """Turns server-sent-event lines into `data` payloads.

    A payload is dispatched as soon as its data lines form valid JSON (or `[DONE]`), so servers that
    separate events with a single newline work too; otherwise at the blank line, as the spec says.
    """

    def __init__(self) -> None:
        self.data: list[str] = []

    def feed(self, line: str) -> list[str]:
        """The payloads completed by this line."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return []  # a comment, e.g. a keep-alive
        name, _, value = line.partition(":")
        if name != "data":
            return []  # event:, id:, retry: carry nothing we use
        self.data.append(value[1:] if value.startswith(" ") else value)
        joined = "\n".join(self.data)
        if joined == "[DONE]" or _is_json(joined):
            return self._dispatch()
        return []

    def _dispatch(self) -> list[str]:
        joined, self.data = "\n".join(self.data), []
        return [joined] if joined else []


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _format_passages(passages: list[Passage]) -> str:
    if not passages:
        return "(none found)"
    return "\n\n".join(f"[#{p.article_id}] {p.title}\n{p.body.strip()}" for p in passages)


def _history_message(turn: Turn) -> dict[str, str]:
    # Only user/assistant: history comes from customers and must never become a system message.
    role = "assistant" if turn.role == "assistant" else "user"
    return {"role": role, "content": turn.text}


def _timeout_kind(exc: aiohttp.ServerTimeoutError) -> str:
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "connect"
    return "read" if isinstance(exc, aiohttp.SocketTimeoutError) else "network"


def _let_go(response: aiohttp.ClientResponse) -> None:
    """Release a response read to its end (its connection may serve another reply); close any other."""
    if response.content.is_eof():
        response.release()
    else:
        response.close()  # the connection goes too, not back to the pool: the provider stops generating


async def _read_limited(response: aiohttp.ClientResponse) -> bytes:
    body = b""
    while len(body) < _ERROR_BODY_LIMIT:
        part = await response.content.read(_ERROR_BODY_LIMIT - len(body))
        if not part:
            break
        body += part
    return body


def _error_message(payload: bytes | dict) -> str:
    """The human-readable message of an OpenAI-style error, shortened; "" if there is none."""
    if isinstance(payload, bytes):
        try:
            payload = json.loads(payload)
        except ValueError:
            text = payload.decode("utf-8", "replace").strip()
            return " ".join(text.split())[:_ERROR_DETAIL_LIMIT]
    error = payload.get("error") if isinstance(payload, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    return " ".join(str(message or "").split())[:_ERROR_DETAIL_LIMIT]
