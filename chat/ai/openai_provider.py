"""The `openai` provider: any OpenAI-compatible chat-completions endpoint, streamed over SSE."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import AsyncIterator
from typing import Any

import httpx

from chat.ai.base import HANDOFF, Handoff, Passage, Provider, ProviderError, ReplyRequest, Turn

logger = logging.getLogger(__name__)

MARKER = "[HANDOFF]"
_ERROR_DETAIL_LIMIT = 200  # characters of a provider's error message worth showing to an agent
_ERROR_BODY_LIMIT = 8192   # bytes of an error body worth reading
_KEY_PREFIX_MIN = 4        # a cut-off key this long at the end of a message is still masked
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
    "Answer the customer's question using only the knowledge-base passages below. "
    "Do not make anything up. If the passages do not contain the answer, reply with exactly "
    f"{MARKER} and nothing else."
)


# One connection pool per event loop (a pool cannot cross loops): a client per reply would build a
# TLS context and a new connection each time, milliseconds of event-loop time under load.
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]" = weakref.WeakKeyDictionary()


def _shared_client() -> httpx.AsyncClient:
    """This event loop's HTTP client for providers (no cap on connections: every reply streams at once)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = _clients[loop] = httpx.AsyncClient(limits=httpx.Limits(max_connections=None,
                                                                           max_keepalive_connections=32))
    return client


class OpenAIProvider(Provider):
    """Streams a reply from an OpenAI-compatible `/chat/completions` endpoint."""

    name = "openai"

    def __init__(self, *, base_url: str, model: str, api_key: str, system_prompt: str, max_tokens: int,
                 timeout: float, first_token_timeout: float | None = None):
        """`timeout` bounds each connect/read; `first_token_timeout` (default: `timeout`) bounds the whole
        wait from sending the request to the first piece of answer text."""
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.system_prompt = system_prompt
        self.max_tokens = max_tokens
        self.timeout = timeout
        self.first_token_timeout = timeout if first_token_timeout is None else first_token_timeout
        self._api_key = api_key

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
        parts = [self.system_prompt.strip(), _INSTRUCTIONS, f"Reply in the customer's language ({request.language})."]
        parts.append("Knowledge-base passages:\n" + _format_passages(request.passages))
        return "\n\n".join(part for part in parts if part)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _payload(self, request: ReplyRequest) -> dict[str, Any]:
        return {"model": self.model, "stream": True, "max_tokens": self.max_tokens,
                "messages": self.build_messages(request)}

    # --- streaming -------------------------------------------------------------------------

    async def stream(self, request: ReplyRequest) -> AsyncIterator[str | Handoff]:
        """Yield answer text as it arrives, or HANDOFF if the model says it cannot answer."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.first_token_timeout
        gate = _HandoffGate()
        logger.debug("openai request: model=%s passages=%d history=%d", self.model, len(request.passages),
                     len(request.history))
        try:
            # Everything entered on the stack is closed on any exit, including cancellation and aclose():
            # a response closed before its end closes its HTTP connection, which is how the customer's
            # stop reaches the provider.
            async with contextlib.AsyncExitStack() as stack:
                # Entering client.stream() waits for the response headers: that counts towards the deadline.
                async with asyncio.timeout_at(deadline):
                    response = await stack.enter_async_context(_shared_client().stream(
                        "POST", f"{self.base_url}/chat/completions", json=self._payload(request),
                        headers=self._headers(), timeout=httpx.Timeout(self.timeout)))
                    await self._check_status(response)
                texts = await stack.enter_async_context(contextlib.aclosing(self._texts(response, deadline)))
                async for text in texts:
                    for piece in gate.feed(text):
                        yield piece
                    if gate.handoff:
                        break  # the rest of the answer is not wanted: closing the stream saves tokens
        except TimeoutError:
            raise self._fail(f"provider sent no answer within {self.first_token_timeout:g}s") from None
        except httpx.TimeoutException as exc:
            raise self._fail(f"provider {_timeout_kind(exc)} timeout after {self.timeout:g}s") from None
        except httpx.ConnectError:
            raise self._fail(f"cannot connect to provider at {httpx.URL(self.base_url).host}") from None
        except httpx.RequestError as exc:  # other transport, protocol and decoding failures
            raise self._fail(f"provider connection failed ({type(exc).__name__})") from None
        for piece in gate.finish():
            yield piece

    async def _texts(self, response: httpx.Response, deadline: float) -> AsyncIterator[str]:
        """Each non-empty `choices[0].delta.content`, until `data: [DONE]`."""
        decoder = _SSEDecoder()
        waiting = True  # until the first text, every read also counts against the first-token deadline
        async with contextlib.aclosing(response.aiter_lines()) as lines:
            while True:
                async with asyncio.timeout_at(deadline) if waiting else contextlib.nullcontext():
                    line = await anext(lines, None)
                if line is None:
                    raise self._fail("provider stream ended before [DONE]")
                for data in decoder.feed(line):
                    if data == "[DONE]":
                        return
                    text = self._delta_text(data)
                    if text:
                        waiting = False
                        yield text

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

    async def _check_status(self, response: httpx.Response) -> None:
        """Raise ProviderError for any non-2xx answer, with the provider's own message when it has one."""
        if response.is_success:
            return
        status = response.status_code
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


class _HandoffGate:
    """Passes text through, except a reply that starts with the handoff marker becomes HANDOFF.

    Text is held back only while everything so far could still be the start of the marker, so an
    ordinary answer is not delayed beyond its first chunk.
    """

    def __init__(self) -> None:
        self.pending = ""
        self.deciding = True   # still unsure whether the reply is a handoff
        self.handoff = False
        self.sent_text = False

    def feed(self, text: str) -> list[str]:
        """The text that may be shown now."""
        if not self.deciding:
            self.sent_text = True
            return [text]
        self.pending += text
        start = self.pending.lstrip()
        if start.startswith(MARKER):
            self.deciding, self.handoff = False, True
            return []
        if MARKER.startswith(start):
            return []  # empty, whitespace or a prefix of the marker: wait for more
        self.deciding = False
        self.sent_text = True
        return [self.pending]

    def finish(self) -> list[str | Handoff]:
        """What to yield once the stream has ended."""
        if self.handoff:
            return [HANDOFF]
        if self.deciding and self.pending.strip():
            return [self.pending]  # the reply was only a fragment like "[HAND": show it as it is
        if not self.sent_text and not self.pending.strip():
            return [HANDOFF]  # an empty answer helps nobody: let a human take it
        return []


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
    return "\n\n".join(f"[{number}] {p.title}: {p.body.strip()}" for number, p in enumerate(passages, 1))


def _history_message(turn: Turn) -> dict[str, str]:
    # Only user/assistant: history comes from customers and must never become a system message.
    role = "assistant" if turn.role == "assistant" else "user"
    return {"role": role, "content": turn.text}


def _timeout_kind(exc: httpx.TimeoutException) -> str:
    return {httpx.ConnectTimeout: "connect", httpx.ReadTimeout: "read", httpx.WriteTimeout: "write",
            httpx.PoolTimeout: "pool"}.get(type(exc), "network")


async def _read_limited(response: httpx.Response) -> bytes:
    body = b""
    async for part in response.aiter_bytes():
        body += part
        if len(body) >= _ERROR_BODY_LIMIT:
            break
    return body[:_ERROR_BODY_LIMIT]


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
