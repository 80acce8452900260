"""Mosquitto password files, written without needing ``mosquitto_passwd`` on the cloud host.

Mosquitto 2.x stores ``user:$7$<iterations>$<salt b64>$<hash b64>`` where the hash is
PBKDF2-HMAC-SHA512 over the password with a 12-byte salt (101 iterations is its default;
we use more, the broker reads the count from the line). Writing the lines ourselves keeps
credential creation a pure-Python step that also works where the broker runs elsewhere.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cloud_sync.security.private_files import write_private

ITERATIONS = 1000      # broker cost per CONNECT: ~1 ms at this count; mosquitto_passwd uses 101
SALT_BYTES = 12


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The ``$7$`` string Mosquitto verifies ``password`` against."""
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches a ``$7$`` (or ``$6$``, SHA512 single round) entry."""
    parts = encoded.split("$")
    if len(parts) == 5 and parts[1] == "7":
        iterations, salt, digest = int(parts[2]), base64.b64decode(parts[3]), parts[4]
        computed = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    elif len(parts) == 4 and parts[1] == "6":
        salt, digest = base64.b64decode(parts[2]), parts[3]
        computed = hashlib.sha512(password.encode() + salt).digest()
    else:
        raise ValueError(f"unknown Mosquitto password hash format {encoded[:8]!r}")
    return hmac.compare_digest(base64.b64encode(computed).decode(), digest)


def new_password() -> str:
    """A random password with 192 bits of entropy, safe in config files and URLs."""
    return secrets.token_urlsafe(24)


class PasswordFile:
    """Read-modify-write of a Mosquitto password file, one ``user:hash`` per line."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.entries: dict[str, str] = {}
        if self.path.exists():
            for lineno, line in enumerate(self.path.read_text().splitlines(), 1):
                if not line.strip() or line.startswith("#"):
                    continue
                user, sep, encoded = line.partition(":")
                if not sep:
                    raise ValueError(f"{self.path}:{lineno}: expected 'user:hash', got {line[:40]!r}")
                self.entries[user] = encoded

    def set(self, user: str, password: str) -> None:
        if ":" in user:
            raise ValueError(f"user name {user!r} contains ':', which Mosquitto cannot store")
        self.entries[user] = hash_password(password)

    def remove(self, user: str) -> None:
        self.entries.pop(user, None)

    def check(self, user: str, password: str) -> bool:
        encoded = self.entries.get(user)
        return encoded is not None and verify_password(password, encoded)

    def save(self) -> Path:
        """Write atomically with mode 0600 (the broker warns about world-readable files)."""
        return write_private(self.path, "".join(f"{user}:{encoded}\n"
                                                for user, encoded in sorted(self.entries.items())))
