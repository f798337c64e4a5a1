"""Cursors "S.I": every message up to seq S, and deltas up to index I of a reply at S."""

from __future__ import annotations

import re
from dataclasses import dataclass

CURSOR_RE = re.compile(r"^(0|[1-9][0-9]{0,9})\.(0|[1-9][0-9]{0,9})$")


class BadCursor(ValueError):
    """The text is not a cursor."""


@dataclass(frozen=True, order=True)
class Cursor:
    """A client's position in a conversation."""

    seq: int = 0
    index: int = 0

    @classmethod
    def parse(cls, text: object) -> Cursor:
        """Read "S.I"; None or "" is the start."""
        if text is None or text == "":
            return cls()
        if not isinstance(text, str) or not CURSOR_RE.match(text):
            raise BadCursor('cursor must look like "12.3"')
        seq, index = text.split(".")
        return cls(int(seq), int(index))

    def __str__(self) -> str:
        return f"{self.seq}.{self.index}"


START = Cursor()
