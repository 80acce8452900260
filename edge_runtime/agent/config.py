"""Agent configuration: one YAML/JSON file, validated on load, partly changeable at run time.

Example (``agent.yaml``)::

    device_id: pi-01
    broker: mqtts://pi-01:secret@cloud.example:8883?ca=/etc/edge/ca.pem
    profile: auto
    heartbeat_s: 10
    tasks:
      - {kind: das, name: traffic, interval_s: 1.0, params: {channels: 800}}
    outbox: {max_messages: 100000, max_bytes: 67108864, drop_policy: drop_oldest}

The cloud changes the *settable* part (``SETTABLE``) through ``config/desired``; the
agent applies it, stores it in its state dir (so it survives restarts) and reports
the effective values on ``config/reported``.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloud_sync.connection import BrokerUrl
from cloud_sync.protocol import DEFAULT_FLEET, DEFAULT_ROOT, check_device_id
from edge_runtime.agent.outbox import DROP_POLICIES

DEFAULT_COMPONENTS = ["edge_runtime.ota.component:OtaComponent"]
SETTABLE = ("heartbeat_s", "tasks", "outbox", "wait_for_coordinator")


@dataclass
class OutboxConfig:
    max_messages: int = 100_000
    max_bytes: int = 64 * 1024 * 1024
    drop_policy: str = "drop_oldest"
    synchronous: str = "NORMAL"       # FULL also survives power loss, at ~2x the write cost
    receipt_timeout_s: float = 120.0  # a result PUBACKed but not confirmed this long is sent again


@dataclass
class TaskSpec:
    kind: str
    name: str
    interval_s: float = 1.0           # how often step() runs; 0 = request-only task
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class AgentConfig:
    device_id: str
    broker: str = "mqtt://127.0.0.1:1883"
    fleet: str = DEFAULT_FLEET
    root: str = DEFAULT_ROOT
    profile: str | None = "auto"      # profile id, "auto" (detect this board, the default) or None
    state_dir: Path = Path("agent-state")
    heartbeat_s: float = 10.0
    tasks: list[TaskSpec] = field(default_factory=list)
    components: list[str] = field(default_factory=lambda: list(DEFAULT_COMPONENTS))
    outbox: OutboxConfig = field(default_factory=OutboxConfig)
    # Hold results until a coordinator has announced its subscriptions, so a broker restart
    # (which forgets every session) cannot swallow a replayed backlog nobody listens to yet.
    wait_for_coordinator: bool = True
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 10.0
    keepalive_s: int = 30
    workers: int = 4                  # threads answering commands and task requests

    def __post_init__(self) -> None:
        check_device_id(self.device_id)
        BrokerUrl.parse(self.broker)  # a bad URL fails here, with the forms it accepts
        self.state_dir = Path(self.state_dir)
        self.tasks = [t if isinstance(t, TaskSpec) else _task_spec(t) for t in self.tasks]
        if isinstance(self.outbox, dict):
            self.outbox = _build(OutboxConfig, self.outbox, "outbox")
        if self.outbox.drop_policy not in DROP_POLICIES:
            raise ValueError(f"outbox.drop_policy {self.outbox.drop_policy!r}: use one of {DROP_POLICIES}")
        if not 1.0 <= self.outbox.receipt_timeout_s <= 86_400:
            raise ValueError(f"outbox.receipt_timeout_s must be 1..86400 s (got {self.outbox.receipt_timeout_s})")
        if not self.heartbeat_s > 0:
            raise ValueError(f"heartbeat_s must be > 0 (got {self.heartbeat_s})")
        names = [t.name for t in self.tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"task names must be unique, got {names}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AgentConfig":
        return _build(cls, data, "agent config")

    def settable(self) -> dict[str, Any]:
        """The part of the config the cloud may change, as plain JSON types."""
        return {name: _plain(getattr(self, name)) for name in SETTABLE}

    def with_changes(self, changes: dict[str, Any]) -> "AgentConfig":
        """A validated copy with ``changes`` (settable keys only) applied."""
        unknown = set(changes) - set(SETTABLE)
        if unknown:
            raise ValueError(f"cannot set {sorted(unknown)} remotely; settable: {list(SETTABLE)}")
        data = _plain(self)
        for key, value in changes.items():
            if key == "outbox" and isinstance(value, dict):
                data["outbox"] = {**data["outbox"], **value}
            else:
                data[key] = value
        return AgentConfig.from_dict(data)


def _task_spec(data: Any) -> TaskSpec:
    if not isinstance(data, dict):
        raise ValueError(f"each task must be a mapping with kind and name, got {data!r}")
    data = dict(data)
    data.setdefault("name", data.get("kind"))
    return _build(TaskSpec, data, f"task {data.get('name')!r}")


def _build(cls, data: dict[str, Any], where: str):
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(known)}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def load_config(path: Path | str | None, **overrides: Any) -> AgentConfig:
    """Read a YAML or JSON config file (or none) and apply non-None ``overrides`` (CLI flags)."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"agent config {path} does not exist")
        text = path.read_text()
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml
            data = yaml.safe_load(text) or {}
        if not isinstance(data, dict):
            raise ValueError(f"agent config {path}: the top level must be a mapping")
    data.update({k: v for k, v in overrides.items() if v is not None})
    if "device_id" not in data:
        raise ValueError("no device id: pass --device-id or set device_id in the config file")
    return AgentConfig.from_dict(data)
