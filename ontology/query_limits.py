"""Limits a SPARQL text must meet before any engine parses it: bytes, nesting depth, terms.

Why: Oxigraph's parser and evaluator recurse in native code. Measured (issue 15): a 20 KB
query nesting brackets 10,000 deep, or a FILTER of 60,000 ``||`` terms, overflowed the
native stack and took the whole coordinator down (3,000 deep and 5,000 terms were fine).
A signal in native code cannot be caught, so the text is measured first, by a small
lexer that knows strings, IRIs and comments (a bracket inside a string does not count).

The limits are generous for real fleet queries (the canned ones use < 10 levels and
< 600 terms) and far below what crashed the engine.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

MAX_QUERY_BYTES = 256 * 1024
MAX_NESTING = 64          # ( { [ open at once
MAX_TERMS = 10_000        # lexical terms: names, variables, IRIs, literals, operators

LIMITS = {"bytes": MAX_QUERY_BYTES, "nesting": MAX_NESTING, "terms": MAX_TERMS}

_TOKEN = re.compile(r'''
    (?P<skip> \s+ | \#[^\n]* )
  | (?P<string> """(?:[^"\\]|\\.|"(?!""))*""" | \'\'\'(?:[^'\\]|\\.|'(?!''))*\'\'\'
              | "(?:[^"\\\n]|\\.)*" | '(?:[^'\\\n]|\\.)*' )
  | (?P<iri> <[^<>"{}|^`\\\s]*> )
  | (?P<open> [({\[] )
  | (?P<close> [)}\]] )
  | (?P<term> \|\| | && | != | <= | >= | \^\^ | [?$][\w]+ | [\w:.\-@]+ | . )
''', re.VERBOSE)


@dataclass
class QueryTooLarge(ValueError):
    """A query over one of ``LIMITS``; ``limit`` names it (bytes, nesting or terms)."""

    limit: str
    value: int

    def __str__(self) -> str:
        return (f"query refused before evaluation: {self.limit} limit is {LIMITS[self.limit]:,}, "
                f"this query has {'at least ' if self.limit != 'bytes' else ''}{self.value:,} "
                f"({'bytes of UTF-8' if self.limit == 'bytes' else self.limit})")


def check_query(text: str) -> None:
    """Raise ``QueryTooLarge`` naming the first limit ``text`` breaks (queries and updates)."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_QUERY_BYTES:
        raise QueryTooLarge("bytes", size)
    depth = terms = 0
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "skip":
            continue
        terms += 1
        if terms > MAX_TERMS:
            raise QueryTooLarge("terms", terms)
        if kind == "open":
            depth += 1
            if depth > MAX_NESTING:
                raise QueryTooLarge("nesting", depth)
        elif kind == "close":
            depth = max(0, depth - 1)
