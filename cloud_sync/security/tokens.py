"""Bearer tokens for writes over the coordinator's HTTP API (deploy, SPARQL update).

Only SHA-256 digests of tokens are stored, so reading the data folder does not reveal a
usable token; comparison is constant-time. Reads stay open (dashboards, queries); any
handler that changes state calls :func:`TokenStore.require` first.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path
from typing import Mapping

from cloud_sync.security.private_files import write_private


class TokenError(PermissionError):
    """A write without a valid token; the HTTP layer maps it to 401."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """Named write tokens in ``<security dir>/http_tokens.json``."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def _load(self) -> dict[str, dict]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def issue(self, name: str) -> str:
        """Create (or replace) the token called ``name`` and return it; shown once, never stored."""
        token = secrets.token_urlsafe(32)
        entries = self._load()
        entries[name] = {"sha256": _digest(token), "created": time.time()}
        write_private(self.path, json.dumps(entries, indent=1))
        return token

    def issue_to_file(self, name: str, path: Path) -> Path:
        """Issue ``name``'s token into ``path`` (mode 0600, created so: never readable by
        others, not even for a moment) instead of showing it; returns the absolute path."""
        return write_private(Path(path).absolute(), self.issue(name) + "\n")

    def revoke(self, name: str) -> bool:
        entries = self._load()
        if entries.pop(name, None) is None:
            return False
        write_private(self.path, json.dumps(entries, indent=1))
        return True

    def check(self, token: str | None) -> str | None:
        """The token's name when valid, else ``None``."""
        if not token:
            return None
        wanted = _digest(token)
        match = None
        for name, entry in self._load().items():
            if hmac.compare_digest(entry["sha256"], wanted):
                match = name
        return match

    def require(self, headers: Mapping[str, str]) -> str:
        """Name of the caller from an ``Authorization: Bearer <token>`` header, or raise TokenError."""
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scheme, _, token = auth.partition(" ")
        name = self.check(token.strip()) if scheme.lower() == "bearer" else None
        if name is None:
            raise TokenError("this write needs 'Authorization: Bearer <token>'; "
                             "create one with 'cloud-sync credentials token NAME'")
        return name
