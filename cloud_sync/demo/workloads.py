"""What each workload contributes to the demo: device tasks, cloud-side set-up, periodic
cloud actions and a line for the final summary.

A workload whose code is not installed (or whose data is missing) is listed as skipped
with the reason; the demo runs everything else.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cloud_sync.demo.fleet import DemoDevice


@dataclass
class DemoContext:
    stack: Any                      # cloud_sync.cloud.CloudStack
    workdir: Path
    devices: list[DemoDevice]
    shared_data: Path | None
    say: Callable[[str], None]
    seed: int = 0
    state: dict[str, Any] = field(default_factory=dict)

    def with_role(self, role: str) -> list[DemoDevice]:
        return [d for d in self.devices if role in d.roles]


class Workload:
    """Override what differs. ``role`` selects the devices (see ``fleet.BASE_FLEET``)."""

    name = "workload"
    role = ""
    needs: tuple[str, ...] = ()        # modules that must import for this workload to run
    tick_every_s = 0.0                 # 0: no periodic cloud action

    def available(self, ctx: DemoContext) -> str | None:
        """None when it can run, else the reason it is skipped."""
        if not ctx.with_role(self.role):
            return f"no device has the role {self.role!r} (use more --devices)"
        for module in self.needs:
            try:
                importlib.import_module(module)
            except ImportError as exc:
                return f"{module} not importable ({exc})"
        return None

    def setup(self, ctx: DemoContext) -> None:
        """Cloud-side preparation before the agents start (train, export, plan)."""

    def tasks_for(self, device: DemoDevice, index: int, ctx: DemoContext) -> list[dict[str, Any]]:
        return []

    def tick(self, ctx: DemoContext) -> None:
        """A periodic cloud action once the fleet is up (an FL round, an inference request)."""

    def summary(self, ctx: DemoContext) -> str:
        return f"{self.stored(ctx)} results"

    def stored(self, ctx: DemoContext) -> int:
        """How many of this workload's records reached the coordinator's store."""
        return ctx.stack.coordinator.count_results(task=self.name)

    def in_graph(self, ctx: DemoContext, graph_results: dict[str, int]) -> int:
        """How many of them the fleet graph accounts for (``graph_results``: per-task summaries)."""
        return graph_results.get(self.name, 0)
