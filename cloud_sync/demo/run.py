"""Run the demo: cloud stack, workloads' set-up, agent processes, periodic cloud actions,
progress lines and a final summary. Everything started here is stopped here."""
from __future__ import annotations

import json
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cloud_sync.cloud import CloudStack
from cloud_sync.demo.catalogue import all_workloads
from cloud_sync.demo.fleet import build_fleet
from cloud_sync.demo.processes import AgentProcesses
from cloud_sync.demo.workloads import DemoContext
from edge_runtime.data_paths import shared_data_dir


BROKER_WAIT_S = 5.0


class BrokerUnreachable(RuntimeError):
    pass


@dataclass
class DemoOptions:
    duration_s: float = 120.0
    devices: int = 6
    broker: str | None = None
    data_dir: Path | None = None
    http_port: int = 8080
    http_host: str = "127.0.0.1"
    heartbeat_s: float = 2.0
    progress_every_s: float = 5.0
    seed: int = 0


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def run_demo(options: DemoOptions, say: Callable[[str], None] = print) -> dict:
    """Run for ``duration_s`` (0 = until Ctrl-C) and return the summary."""
    data_dir = Path(options.data_dir or tempfile.mkdtemp(prefix="edge-demo-"))
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_interrupt) if in_main else None
    stack = procs = None
    ctx = None
    try:
        say(f"data directory     {data_dir}")
        stack = CloudStack(options.broker, data_dir / "cloud", http_host=options.http_host,
                           http_port=options.http_port).start(wait_s=BROKER_WAIT_S)
        if options.broker is not None and not stack.coordinator.wait_ready(0):
            # fail in seconds, not after the set-up: the devices could not reach it either
            link = stack.coordinator.link
            raise BrokerUnreachable(f"{link.last_error or f'no connection to {link.url}'} (for {BROKER_WAIT_S:g} s); "
                                    f"start the broker, or leave out --broker to use the embedded one")
        kind = "embedded amqtt broker" if options.broker is None else "external broker"
        say(f"broker             {stack.broker_url} ({kind})")
        say(f"dashboard          {stack.dashboard_url}")
        say(f"SPARQL endpoint    {stack.dashboard_url}sparql")
        devices = build_fleet(options.devices)
        ctx = DemoContext(stack, data_dir, devices, shared_data_dir(), say, options.seed)
        say(f"shared data        {ctx.shared_data or 'not found: generated data only'}")
        active = _prepare_workloads(ctx)
        procs = AgentProcesses(data_dir / "devices", stack.broker_url)
        for device in devices:
            procs.spawn(device.device_id, device.config(), options.heartbeat_s)
            say(f"device started     {device.device_id:<8} {device.profile:<26} "
                f"tasks: {', '.join(t['name'] for t in device.tasks) or '-'}")
        _wait_online(ctx, procs, timeout=90.0)
        _loop(ctx, active, options, procs)
    except KeyboardInterrupt:
        say("stopping (Ctrl-C)…")
    finally:
        online_at_end = _online_count(stack) if stack else 0
        if procs:
            procs.stop_all()      # agents deliver what they hold before the books are closed
        summary = _summary(ctx, all_active(ctx), online_at_end) if ctx else {}
        if stack:
            stack.stop()
        if in_main:
            signal.signal(signal.SIGTERM, previous)
    for line in summary.get("lines", []):
        say(line)
    (data_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def all_active(ctx: DemoContext) -> list:
    return ctx.state.get("active", [])


def _prepare_workloads(ctx: DemoContext) -> list:
    active = []
    for workload in all_workloads():
        reason = workload.available(ctx)
        if reason:
            ctx.say(f"workload skipped   {workload.name}: {reason}")
            continue
        started = time.monotonic()
        try:
            workload.setup(ctx)
        except Exception as exc:  # one broken workload must not stop the demo
            ctx.say(f"workload failed    {workload.name}: {type(exc).__name__}: {exc}")
            continue
        holders = ctx.with_role(workload.role)
        for index, device in enumerate(holders):
            device.tasks.extend(workload.tasks_for(device, index, ctx))
        ctx.say(f"workload ready     {workload.name} on {', '.join(d.device_id for d in holders)}"
                f" ({time.monotonic() - started:.1f} s set-up)")
        active.append(workload)
    ctx.state["active"] = active
    return active


def _wait_online(ctx: DemoContext, procs: AgentProcesses, timeout: float) -> None:
    wanted = {d.device_id for d in ctx.devices}
    deadline = time.monotonic() + timeout
    while True:
        online = {d["device_id"] for d in ctx.stack.coordinator.devices() if d["online"]}
        if wanted <= online:
            ctx.say(f"fleet online       {len(online)}/{len(wanted)} devices")
            return
        dead = [name for name, alive in procs.alive().items() if not alive]
        if dead:
            raise RuntimeError(f"device process {dead[0]} exited:\n{procs.tail(dead[0])}")
        if time.monotonic() > deadline:
            ctx.say(f"still offline after {timeout:.0f} s: {', '.join(sorted(wanted - online))}")
            return
        time.sleep(0.2)


def _loop(ctx: DemoContext, active: list, options: DemoOptions, procs: AgentProcesses) -> None:
    started = time.monotonic()
    next_tick = {w.name: started for w in active if w.tick_every_s}
    next_progress = started + options.progress_every_s
    live = LiveTable.for_terminal()        # None when the output is not a terminal (logs, tests)
    try:
        _run_loop(ctx, active, options, started, next_tick, next_progress, live)
    finally:
        if live:
            live.stop()


def _run_loop(ctx, active, options, started, next_tick, next_progress, live) -> None:
    while options.duration_s <= 0 or time.monotonic() - started < options.duration_s:
        now = time.monotonic()
        for workload in active:
            if workload.name in next_tick and now >= next_tick[workload.name]:
                next_tick[workload.name] = now + workload.tick_every_s
                try:
                    workload.tick(ctx)
                except Exception as exc:
                    ctx.say(f"{workload.name}: cloud step failed: {type(exc).__name__}: {exc}")
        if now >= next_progress:
            next_progress = now + options.progress_every_s
            if live:
                live.update(*_progress_rows(ctx, active, now - started, options.duration_s))
            else:
                ctx.say(_progress_line(ctx, active, now - started, options.duration_s))
        time.sleep(0.1)


PROGRESS_WIDTH = 110           # one short line per workload instead of one 400-character line


def _progress_rows(ctx: DemoContext, active: list, elapsed: float, duration: float) -> tuple[str, list]:
    """(header, [(workload, its summary)]) for the progress table."""
    devices = ctx.stack.coordinator.devices()
    online = sum(1 for d in devices if d["online"])
    total = ctx.stack.coordinator.count_results()
    clock = f"{elapsed:5.0f}/{duration:.0f} s" if duration > 0 else f"{elapsed:5.0f} s"
    rows = []
    for w in active:
        try:
            rows.append((w.name, w.summary(ctx)))
        except Exception as exc:         # a summary must not stop the demo
            rows.append((w.name, f"summary failed: {type(exc).__name__}: {exc}"))
    return f"[{clock}] {online}/{len(devices)} online · {total} results", rows


def _progress_line(ctx: DemoContext, active: list, elapsed: float, duration: float) -> str:
    """The progress as a compact block: a header line, then one cut line per workload."""
    header, rows = _progress_rows(ctx, active, elapsed, duration)
    lines = [header] + [_cut(f"  {name:<10} {text}", PROGRESS_WIDTH) for name, text in rows]
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


class LiveTable:
    """On a terminal, the progress as one table redrawn in place (rich); elsewhere None."""

    def __init__(self):
        from rich.console import Console
        from rich.live import Live
        self.console = Console()
        self.live = Live(console=self.console, auto_refresh=False, transient=False)
        self.live.start()

    def update(self, header: str, rows: list) -> None:
        from rich.table import Table
        table = Table(title=header, title_justify="left", show_header=False, box=None, pad_edge=False)
        table.add_column("workload", style="bold", no_wrap=True)
        table.add_column("state", overflow="ellipsis", no_wrap=True, max_width=max(40, self.console.width - 14))
        for name, text in rows:
            table.add_row(name, text)
        self.live.update(table, refresh=True)

    def stop(self) -> None:
        self.live.stop()

    @staticmethod
    def for_terminal():
        import sys
        if not sys.stdout.isatty():
            return None
        try:
            return LiveTable()
        except ImportError:
            return None


GRAPH_RESULTS = """PREFIX er: <https://w3id.org/edge-runtime/ns#>
SELECT ?workload (SUM(?count) AS ?results) WHERE {
  ?summary a er:ResultSummary ; er:workload ?workload ; er:resultCount ?count .
} GROUP BY ?workload"""


def _graph_results(stack) -> dict[str, int]:
    """Results per workload as the fleet graph knows them (summaries, never raw records)."""
    if stack.fleet_graph is None:
        return {}
    stack.fleet_graph.flush()
    return {str(row["workload"]): int(row["results"]) for row in stack.graph_store.query(GRAPH_RESULTS)}


def _online_count(stack) -> int:
    try:
        return sum(1 for d in stack.coordinator.devices() if d["online"])
    except Exception:        # the store may not exist yet if start-up failed
        return 0


def _summary(ctx: DemoContext, active: list, online_at_end: int) -> dict:
    coordinator = ctx.stack.coordinator
    coordinator.flush(5.0)
    devices = coordinator.devices()
    graph_results = _graph_results(ctx.stack)
    per_workload, stored, graph = {}, {}, {}
    for workload in active:
        try:
            stored[workload.name] = workload.stored(ctx)
            graph[workload.name] = workload.in_graph(ctx, graph_results)
            per_workload[workload.name] = workload.summary(ctx)
        except Exception as exc:
            per_workload[workload.name] = f"summary failed: {type(exc).__name__}: {exc}"
    triples = ctx.stack.graph_store.triple_count() if ctx.stack.graph_store is not None else 0
    lines = ["", "summary",
             f"  devices seen       {len(devices)} ({online_at_end} online at the end)",
             f"  results stored     {coordinator.count_results()} (duplicates dropped: "
             f"{coordinator.stats()['duplicates']})",
             f"  fleet graph        {triples} triples"]
    lines += [f"  {name:<18} {text}" for name, text in per_workload.items()]
    return {"devices": len(devices), "online": online_at_end,
            "results": coordinator.count_results(), "triples": triples,
            "stored_by_workload": stored, "graph_by_workload": graph,
            "workloads": per_workload, "lines": lines}
