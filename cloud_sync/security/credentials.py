"""Per-device and coordinator broker credentials, and the broker files derived from them.

Everything lives under ``<data>/security/`` (mode 0600 files):

* ``devices/<id>.json`` / ``coordinators/<name>.json``: user name + password (the bundle
  copies a device's file onto that device);
* ``passwd`` and ``acl``: the Mosquitto password and ACL files, regenerated from the above
  every time so they never drift apart;
* ``pki/``: CA, broker server certificate, client certificates;
* ``mosquitto.conf``: the lines a broker needs to use them (``include`` it or append it).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from cloud_sync.protocol.topics import TopicTree, check_device_id
from cloud_sync.security.acl import AclRules, check_user_name
from cloud_sync.security.passwords import PasswordFile, new_password
from cloud_sync.security.private_files import write_private
from cloud_sync.security.tokens import TokenStore


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    role: str            # "device" | "coordinator"
    created: float

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)


class CredentialStore:
    def __init__(self, data_dir: Path, scope: TopicTree | None = None):
        self.dir = Path(data_dir) / "security"
        self.scope = scope or TopicTree()
        self.passwd_path = self.dir / "passwd"
        self.acl_path = self.dir / "acl"
        self.conf_path = self.dir / "mosquitto.conf"
        self.tokens = TokenStore(self.dir / "http_tokens.json")

    def _role_dir(self, role: str) -> Path:
        return self.dir / ("devices" if role == "device" else "coordinators")

    def secret_path(self, username: str, role: str = "device") -> Path:
        return self._role_dir(role) / f"{username}.json"

    def _write_secret(self, creds: Credentials) -> None:
        write_private(self.secret_path(creds.username, creds.role), creds.to_json())

    def get(self, username: str, role: str = "device") -> Credentials | None:
        path = self.secret_path(username, role)
        return Credentials(**json.loads(path.read_text())) if path.exists() else None

    def names(self, role: str) -> list[str]:
        folder = self._role_dir(role)
        return sorted(p.stem for p in folder.glob("*.json")) if folder.exists() else []

    def add(self, username: str, role: str = "device", *, rotate: bool = False) -> Credentials:
        """Create credentials for ``username`` (kept if they exist unless ``rotate``); rewrite broker files."""
        if role not in ("device", "coordinator"):
            raise ValueError(f"role must be 'device' or 'coordinator', not {role!r}")
        if role == "device":
            check_device_id(username)
        else:
            check_user_name(username)
        existing = self.get(username, role)
        if existing and not rotate:
            creds = existing
        else:
            creds = Credentials(username, new_password(), role, time.time())
            self._write_secret(creds)
        self.write_broker_files()
        return creds

    def remove(self, username: str, role: str = "device") -> bool:
        path = self.secret_path(username, role)
        if not path.exists():
            return False
        path.unlink()
        self.write_broker_files()
        return True

    def write_broker_files(self) -> Path:
        """Regenerate ``passwd``, ``acl`` and ``mosquitto.conf`` from the stored credentials."""
        passwd = PasswordFile(self.passwd_path)
        passwd.entries.clear()
        rules = AclRules(self.scope)
        for role, names in (("device", rules.devices), ("coordinator", rules.coordinators)):
            for name in self.names(role):
                passwd.set(name, self.get(name, role).password)
                names.add(name)
        passwd.save()
        rules.save(self.acl_path)
        return write_private(self.conf_path, self.mosquitto_conf())

    def mosquitto_conf(self) -> str:
        """Global broker lines (append after the listener lines); reload with SIGHUP after changes.

        Paths are absolute (the broker runs from its own working directory, not ours) and
        anonymous clients are refused: with a password file but no ``allow_anonymous false``
        an older Mosquitto, or a listener with per-listener settings, lets anyone in."""
        return ("allow_anonymous false\n"
                "# the coordinator acknowledges QoS1 only after its commit: Mosquitto's default\n"
                "# window of 20 unacknowledged messages per client would cap its ingest rate\n"
                "max_inflight_messages 1000\n"
                f"password_file {self.passwd_path.absolute()}\n"
                f"acl_file {self.acl_path.absolute()}\n")
