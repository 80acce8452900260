"""Optional agent components (OTA deployment, ...) loaded by class path.

A component is any class ``Component(host)`` with optional ``start()`` / ``stop()``.
The ``ComponentHost`` it receives is the whole API it may use: device-scoped
subscribe/publish (so it never touches MQTT or the outbox directly), the running
tasks and the device profile. A component that is not installed is skipped: the lean
device install simply has fewer features.
"""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundMessage:
    """A validated message for a component: the device-scoped topic suffix and its body."""

    suffix: str            # e.g. "deploy/job-7/order"
    topic: str             # the full topic
    body: dict[str, Any]
    envelope: dict[str, Any]
    retained: bool


class ComponentHost:
    """What a component may use. ``subscribe`` filters are MQTT filters on the topic suffix
    (``deploy/#``); callbacks run on the agent's worker threads, never the network thread."""

    def __init__(self, agent: Any, name: str):
        self._agent = agent
        self.name = name
        self.device_id: str = agent.device_id
        self.state_dir: Path = agent.config.state_dir / "components" / name
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.profile = agent.profile
        self.log = logging.getLogger(f"edge_runtime.component.{name}")

    @property
    def tasks(self) -> dict[str, Any]:
        """The running Task objects by name (live: reflects config changes)."""
        return self._agent.tasks

    def subscribe(self, topic_suffix: str, callback: Callable[[InboundMessage], None]) -> None:
        self._agent.subscribe_suffix(topic_suffix, callback)

    def publish(self, topic_suffix: str, body: dict[str, Any], durable: bool = False,
                retain: bool = False, qos: int = 1) -> None:
        """Publish ``body`` in an envelope on the device's ``topic_suffix``.

        ``durable=True`` goes through the outbox (stored first, replayed after outages);
        otherwise it is sent now or dropped when offline (fine for state that is re-sent)."""
        self._agent.publish(topic_suffix, body, durable=durable, retain=retain, qos=qos)


def load_components(agent: Any, class_paths: list[str]) -> list[Any]:
    """Instantiate each ``module:Class``; a missing module is skipped with a debug log."""
    loaded = []
    for path in class_paths:
        module_name, _, class_name = path.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                log.debug("component %s not installed; skipped", path)
                continue
            raise
        cls = getattr(module, class_name, None)
        if cls is None:
            raise ValueError(f"component {path}: module {module_name} has no {class_name}")
        host = ComponentHost(agent, class_name.lower())
        loaded.append(cls(host))
    return loaded
