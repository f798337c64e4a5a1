"""Typing text out in chat-sized chunks at a human pace."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

# Typing units: up to two Chinese characters, or one word with the spaces after it; together they rebuild the text.
_CHUNK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]{1,2}|[^\s\u3400-\u9fff\uf900-\ufaff]+\s*|\s+")


def split_chunks(text: str) -> list[str]:
    """Cut text into typing-sized chunks (a word, or two Chinese characters) that join back to the text."""
    return _CHUNK.findall(text)


async def type_out(text: str, chars_per_second: float, *, started: bool = False) -> AsyncIterator[str]:
    """Yield the text chunk by chunk, pausing as a typist would (no pause before the reply's first chunk)."""
    for position, chunk in enumerate(split_chunks(text)):
        # No try/except here: a cancellation raised inside sleep() must reach the caller untouched.
        if (position or started) and chars_per_second:
            await asyncio.sleep(len(chunk) / chars_per_second)
        yield chunk
