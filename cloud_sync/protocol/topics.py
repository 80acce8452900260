"""The versioned MQTT topic tree: one place that builds and parses every topic.

``<root>/v1/<fleet>/<device>/<suffix>`` for everything about one device and
``<root>/v1/<fleet>/fl/<round>/global`` / ``<root>/v1/<fleet>/_sys/...`` for fleet-wide
messages. Keeping the tree here means the agent, the coordinator and the tests can
never disagree on a topic string, and a v2 tree can live beside v1 on one broker.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

PROTOCOL_VERSION = "v1"
DEFAULT_ROOT = "edge"
DEFAULT_FLEET = "default"
# Device ids become topic levels: no wildcards, no slashes, no leading '_' or '$'.
DEVICE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
RESERVED_DEVICE_IDS = {"fl"}


def check_device_id(device_id: str) -> str:
    """Return ``device_id`` or raise ValueError saying what a valid id looks like."""
    if not isinstance(device_id, str) or not DEVICE_ID_RE.match(device_id) \
            or device_id in RESERVED_DEVICE_IDS:
        raise ValueError(f"invalid device id {device_id!r}: use 1-64 letters, digits, '.', '_' "
                         f"or '-', starting with a letter or digit (not {sorted(RESERVED_DEVICE_IDS)})")
    return device_id


@dataclass(frozen=True)
class Route:
    """What a topic means: the message kind, the device (None for fleet topics) and the name
    in it (task, command, job or FL round)."""

    kind: str
    device_id: str | None
    name: str | None = None


@dataclass(frozen=True)
class TopicTree:
    """Topic builder/parser for one fleet."""

    root: str = DEFAULT_ROOT
    fleet: str = DEFAULT_FLEET

    @property
    def base(self) -> str:
        return f"{self.root}/{PROTOCOL_VERSION}/{self.fleet}"

    def device(self, device_id: str, suffix: str) -> str:
        return f"{self.base}/{device_id}/{suffix}"

    def coordinator_presence(self, replica: str = "+") -> str:
        return f"{self.base}/_sys/coordinator/{replica}"

    def fl_global(self, round_id: str | int = "+") -> str:
        return f"{self.base}/fl/{round_id}/global"

    def all_devices(self, suffix: str) -> str:
        """Subscription filter for ``suffix`` on every device (``+`` for the device level)."""
        return f"{self.base}/+/{suffix}"

    def split(self, topic: str) -> tuple[str, str] | None:
        """(device id or first level, rest) of a topic in this fleet, or None."""
        prefix = self.base + "/"
        if not topic.startswith(prefix):
            return None
        first, _, rest = topic[len(prefix):].partition("/")
        if not rest:
            return None
        return first, rest

    @functools.lru_cache(maxsize=65536)  # a fleet has few distinct topics; routes are immutable
    def route(self, topic: str) -> Route | None:
        """Classify a topic of this fleet; None when it is not part of the tree."""
        parts = self.split(topic)
        if parts is None:
            return None
        first, rest = parts
        levels = rest.split("/")
        if first == "_sys":
            if len(levels) == 2 and levels[0] == "coordinator":
                return Route("coordinator_state", None, levels[1])
            return None
        if first == "fl":
            if len(levels) == 2 and levels[1] == "global":
                return Route("fl_global", None, levels[0])
            return None
        if not DEVICE_ID_RE.match(first):
            return None
        return route_suffix(first, levels)


def route_suffix(device_id: str, levels: list[str]) -> Route | None:
    """Classify the device-scoped part of a topic (split on '/')."""
    n = len(levels)
    head = levels[0]
    if n == 1 and head in ("state", "td", "health", "receipt"):
        return Route(head, device_id)
    if head == "config" and n == 2 and levels[1] in ("desired", "reported"):
        return Route(f"config_{levels[1]}", device_id)
    if head == "result" and n == 2:
        return Route("result", device_id, levels[1])
    if head == "cmd" and n == 2:
        return Route("cmd", device_id, levels[1])
    if head == "cmd" and n == 3 and levels[2] == "reply":
        return Route("cmd_reply", device_id, levels[1])
    if head == "task" and n == 3 and levels[2] in ("request", "reply"):
        return Route(f"task_{levels[2]}", device_id, levels[1])
    if head == "deploy" and n == 2:        # device -> cloud: job state
        return Route("deploy", device_id, levels[1])
    if head == "deploy" and n >= 3:        # cloud -> device: job orders (deploy/<job>/order)
        return Route("deploy_order", device_id, levels[1])
    if head == "fl" and n == 3 and levels[2] == "update":
        return Route("fl_update", device_id, levels[1])
    return None
