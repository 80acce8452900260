"""What the graph store raises, each with a message that says what was wrong and what to do."""
from __future__ import annotations

import re

_POSITION = re.compile(r"(?:error at |line )(\d+):(\d+)")


class SparqlSyntaxError(ValueError):
    """Malformed SPARQL; carries the parser's message and the 1-based line/column when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        self.message, self.line, self.column = message, line, column
        where = f" at line {line}, column {column}" if line else ""
        super().__init__(f"SPARQL syntax error{where}: {message}")

    @classmethod
    def from_parser(cls, text: str) -> "SparqlSyntaxError":
        found = _POSITION.search(text)
        if not found:
            return cls(text.strip())
        message = _POSITION.sub("", text, count=1).lstrip(": ").strip() or text.strip()
        return cls(message, int(found.group(1)), int(found.group(2)))


class UpdateRefused(ValueError):
    """The store will not apply this update as written; the message says why and what to do."""


class QueryTimeout(TimeoutError):
    """The query ran past its time limit."""


class QueryTooExpensive(MemoryError):
    """The query needed more memory (or a longer answer) than it may take; it would fail again."""


class StoreUnavailable(OSError):
    """The store could not be opened or reached; the message says what to do."""
