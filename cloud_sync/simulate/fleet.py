"""Thousands of virtual devices in one asyncio process, and the report of what they sent.

    sim = FleetSimulator("mqtt://127.0.0.1:1883", FleetOptions(devices=2000, duration_s=60))
    report = sim.run_blocking()            # or SimulatorThread(sim).start() beside a test
    ids = set(report.expected_result_ids())   # every result id the fleet created

Each device lives in one coroutine (``_life``): it connects at its slot of the ramp
(``connect_rate`` per second), sends results on its own phase (heartbeats, on their own
phase too, come from one ``HeartbeatWheel`` for the whole fleet), and goes
through the faults it drew: *churn* (a clean reconnect, new bdSeq; ``churn_per_hour``
per device-hour, exponential gaps), *power cuts* (drop without DISCONNECT: the broker
sends the will) and a fleet *outage* (``outage_fraction`` of the devices lose the link
at ``outage_at_s`` for ``outage_s``; their results pile up in the outbox and are replayed
``historical`` afterwards). What differs between real sites is drawn per device from the
seed: board profile, site, task, heartbeat phase, result interval (±``result_jitter``),
payload size, temperature.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import resource
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

from cloud_sync.connection import as_url
from cloud_sync.protocol import TopicTree
from cloud_sync.simulate.device import DeviceCounters, DeviceSpec, VirtualDevice, result_id
from cloud_sync.simulate.specs import draw_specs
from cloud_sync.simulate.wheel import HeartbeatWheel

log = logging.getLogger(__name__)


@dataclass
class FleetOptions:
    devices: int = 100
    heartbeat_s: float = 1.0
    result_every_s: float = 10.0
    result_jitter: float = 0.2          # each device's interval drawn in [1-j, 1+j] x result_every_s
    duration_s: float | None = 60.0     # None: until stop()
    connect_rate: float = 500.0         # new connections per second during the ramp
    churn_per_hour: float = 0.0         # clean reconnects per device-hour
    power_cut_per_hour: float = 0.0     # drops without DISCONNECT (will) per device-hour
    outage_fraction: float = 0.0
    outage_at_s: float = 30.0
    outage_s: float = 10.0
    drain_s: float = 30.0               # at the end: how long to wait for outboxes to empty
    keepalive_s: int = 60
    wait_for_coordinator: bool = True
    fleet: str = "default"
    root: str = "edge"
    prefix: str = "sim"
    sites: int | None = None            # default: one site per 100 devices
    seed: int = 0

    def check(self) -> "FleetOptions":
        problems = []
        if not 1 <= self.devices <= 60000:
            problems.append(f"devices={self.devices} (1-60000: one TCP connection each)")
        for name in ("heartbeat_s", "result_every_s", "connect_rate"):
            if not getattr(self, name) > 0:
                problems.append(f"{name}={getattr(self, name)} (must be > 0)")
        if not 0 <= self.outage_fraction <= 1 or not 0 <= self.result_jitter < 1:
            problems.append("outage_fraction must be in [0, 1] and result_jitter in [0, 1)")
        if self.duration_s is not None and self.duration_s <= 0:
            problems.append(f"duration_s={self.duration_s} (must be > 0)")
        if self.churn_per_hour < 0 or self.power_cut_per_hour < 0 or self.outage_s < 0:
            problems.append("churn_per_hour, power_cut_per_hour and outage_s must be >= 0")
        if problems:
            raise ValueError("bad fleet simulator options: " + "; ".join(problems))
        return self


@dataclass
class FleetReport:
    """What was sent: counts per device are enough to rebuild every result id."""

    run_nonce: int
    options: dict[str, Any]
    elapsed_s: float
    totals: dict[str, int]
    online_at_end: int
    results_per_device: dict[str, int] = field(default_factory=dict)
    unacked_per_device: dict[str, int] = field(default_factory=dict)
    device_index: dict[str, int] = field(default_factory=dict)
    process: dict[str, float] = field(default_factory=dict)

    def expected_result_ids(self) -> Iterator[tuple[str, str]]:
        """(device id, message id) of every result created, acknowledged or not."""
        for device_id, count in self.results_per_device.items():
            index = self.device_index[device_id]
            for seq in range(1, count + 1):
                yield device_id, result_id(self.run_nonce, index, seq)

    def to_dict(self, per_device: bool = False) -> dict[str, Any]:
        out = asdict(self)
        if not per_device:
            for key in ("results_per_device", "unacked_per_device", "device_index"):
                out.pop(key)
        return out


class FleetSimulator:
    def __init__(self, broker_url: str, options: FleetOptions | None = None):
        self.url = as_url(broker_url)
        if self.url.scheme != "mqtt":
            raise ValueError(f"the fleet simulator speaks plain mqtt:// only, not {self.url.scheme}://")
        self.options = (options or FleetOptions()).check()
        self.topics = TopicTree(self.options.root, self.options.fleet)
        self.run_nonce = random.Random(self.options.seed).getrandbits(32) ^ (os.getpid() & 0xFFFF)
        self.devices: list[VirtualDevice] = []
        self.started_at: float | None = None
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Lives asleep until their next event; cancelled at stop. (Waking every device once a
        # second to look at 'stop' was 10,000 timer wake-ups a second, as many as heartbeats.)
        self._napping: set[asyncio.Task] = set()

    # ----- running -------------------------------------------------------------------------------
    def run_blocking(self) -> FleetReport:
        return asyncio.run(self.run())

    async def run(self) -> FleetReport:
        o = self.options
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        specs = draw_specs(o, self.topics)
        self.devices = [VirtualDevice(spec, self.url.host, self.url.port, self.topics, self.run_nonce,
                                      random.Random(o.seed * 1_000_003 + spec.index),
                                      o.wait_for_coordinator) for spec in specs]
        self.started_at = time.monotonic()
        cpu0 = time.process_time()
        producing = asyncio.Event()
        producing.set()
        lives = [asyncio.create_task(self._life(device, producing)) for device in self.devices]
        lives.append(asyncio.create_task(HeartbeatWheel(self.devices, random.Random(o.seed)).run(self._stop)))
        if o.duration_s is not None:
            try:
                await asyncio.wait_for(self._stop.wait(), o.duration_s)
            except asyncio.TimeoutError:
                pass
        else:
            await self._stop.wait()
        producing.clear()
        await self._drain(o.drain_s)
        self._stop.set()
        for task in list(self._napping):
            task.cancel()
        await asyncio.gather(*lives, return_exceptions=True)
        online = sum(d.online for d in self.devices)
        await asyncio.gather(*(d.disconnect() for d in self.devices), return_exceptions=True)
        return self._report(time.monotonic() - self.started_at, time.process_time() - cpu0, online)

    def stop(self) -> None:
        """Stop producing, drain the outboxes, disconnect (thread-safe)."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stop.set)
            except RuntimeError:   # the loop closed between the check and the call
                pass

    async def _drain(self, deadline_s: float) -> None:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end and any(d.outbox for d in self.devices):
            await asyncio.sleep(0.1)

    # ----- one device ----------------------------------------------------------------------------
    async def _life(self, device: VirtualDevice, producing: asyncio.Event) -> None:
        o, rng, stop = self.options, device.rng, self._stop
        await asyncio.sleep(device.spec.index / o.connect_rate)
        pump = asyncio.create_task(device.pump(stop))
        now = time.monotonic()
        next_result = now + rng.uniform(0, device.spec.result_every_s)
        next_churn = now + self._gap(rng, o.churn_per_hour)
        next_cut = now + self._gap(rng, o.power_cut_per_hour)
        outage_at = (self.started_at + o.outage_at_s) if rng.random() < o.outage_fraction else None
        down_until = 0.0
        backoff = 0.5
        try:
            while not stop.is_set():
                now = time.monotonic()
                if not device.online and now >= down_until:
                    if await self._try_connect(device):
                        backoff = 0.5
                    else:
                        down_until = now + backoff * rng.uniform(0.5, 1.5)
                        backoff = min(backoff * 2, 10.0)
                if outage_at is not None and now >= outage_at:
                    outage_at = None
                    device.power_cut()
                    down_until = now + o.outage_s
                if now >= next_cut:
                    next_cut = now + self._gap(rng, o.power_cut_per_hour)
                    device.power_cut()
                    down_until = now + rng.uniform(1.0, 5.0)
                if now >= next_churn:
                    next_churn = now + self._gap(rng, o.churn_per_hour)
                    await device.disconnect()
                    down_until = now + rng.uniform(0.2, 2.0)
                if now >= next_result:
                    next_result += device.spec.result_every_s
                    if producing.is_set():
                        device.produce_result()
                wake = min(next_result, next_churn, next_cut,
                           down_until if not device.online else float("inf"),
                           outage_at if outage_at is not None else float("inf"))
                await self._nap(max(0.0, wake - time.monotonic()))
        finally:
            device._sendable.set()
            pump.cancel()

    async def _nap(self, seconds: float) -> None:
        task = asyncio.current_task()
        self._napping.add(task)
        try:
            await asyncio.sleep(seconds)
        finally:
            self._napping.discard(task)

    async def _try_connect(self, device: VirtualDevice) -> bool:
        try:
            await device.connect(self.options.keepalive_s)
            return True
        except Exception as exc:  # refused, timed out, reset: back off and retry like the agent
            log.debug("%s could not connect: %s", device.spec.device_id, exc)
            return False

    @staticmethod
    def _gap(rng: random.Random, per_hour: float) -> float:
        return rng.expovariate(per_hour / 3600.0) if per_hour > 0 else float("inf")

    # ----- report --------------------------------------------------------------------------------
    def _report(self, elapsed: float, cpu_s: float, online: int) -> FleetReport:
        totals = DeviceCounters().__dict__.copy()
        for device in self.devices:
            for key, value in device.counters.__dict__.items():
                totals[key] += value
        totals["unacked"] = sum(len(d.outbox) for d in self.devices)
        return FleetReport(
            run_nonce=self.run_nonce, options=asdict(self.options), elapsed_s=round(elapsed, 2),
            totals=totals, online_at_end=online,
            results_per_device={d.spec.device_id: d.counters.results for d in self.devices},
            unacked_per_device={d.spec.device_id: len(d.outbox) for d in self.devices if d.outbox},
            device_index={d.spec.device_id: d.spec.index for d in self.devices},
            process={"cpu_s": round(cpu_s, 2), "cpu_cores_mean": round(cpu_s / max(elapsed, 1e-9), 3),
                     "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})

    def snapshot(self) -> dict[str, int]:
        """Live figures (any thread): devices connected, results created/acked, backlog."""
        devices = list(self.devices)
        return {"devices": len(devices), "online": sum(d.online for d in devices),
                "results": sum(d.counters.results for d in devices),
                "acked": sum(d.counters.acked for d in devices),
                "backlog": sum(len(d.outbox) for d in devices)}


class SimulatorThread:
    """Run a FleetSimulator on its own event loop thread beside a test or a coordinator."""

    def __init__(self, simulator: FleetSimulator):
        self.simulator = simulator
        self.report: FleetReport | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="fleet-simulator", daemon=True)

    def _run(self) -> None:
        try:
            self.report = self.simulator.run_blocking()
        except BaseException as exc:  # surfaced by join()
            self.error = exc

    def start(self) -> "SimulatorThread":
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def wait_online(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.simulator.devices and self.simulator.snapshot()["online"] >= count:
                return True
            if not self._thread.is_alive():
                return False
            time.sleep(0.1)
        return False

    def stop_and_join(self, timeout: float = 120.0, stop: bool = True) -> FleetReport:
        """The report, after stopping the run (``stop=False``: after it ends by its duration)."""
        if stop:
            self.simulator.stop()
        self._thread.join(timeout)
        if self.error is not None:
            raise self.error
        if self.report is None:
            raise TimeoutError(f"fleet simulator did not finish within {timeout} s")
        return self.report


def write_report(report: FleetReport, path, per_device: bool = False) -> None:
    with open(path, "w") as out:
        json.dump(report.to_dict(per_device), out, indent=2)
