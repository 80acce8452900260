"""Every device's heartbeat from one task, on a wheel of 10 ms ticks.

With one ``asyncio.sleep`` per device per heartbeat, 10,000 devices at 1 Hz kept 10,000
timers in asyncio's heap and switched coroutines 10,000 times a second: about a fifth of the
simulator's CPU (py-spy: ``TimerHandle.__lt__``, ``_run_once``), on a box where the simulator
shares two cores with the coordinator it is measuring. Here each device sits in the bucket of
the tick its next heartbeat falls in; one task wakes per tick and sends the bucket's beats.
A device's interval is read at every beat, so a desired-config change of ``heartbeat_s``
takes effect at the next one.
"""
from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict

TICK_S = 0.01


class HeartbeatWheel:
    def __init__(self, devices, rng: random.Random):
        self._buckets: dict[int, list] = defaultdict(list)
        for device in devices:   # each on its own phase, as real devices boot at random times
            self._buckets[int(rng.uniform(0, device.heartbeat_s) / TICK_S)].append(device)

    async def run(self, stop: asyncio.Event) -> None:
        start = time.monotonic()
        tick = 0
        while not stop.is_set():
            for device in self._buckets.pop(tick, ()):
                if device.online:
                    device.heartbeat()
                self._buckets[tick + max(1, round(device.heartbeat_s / TICK_S))].append(device)
            tick += 1
            delay = start + tick * TICK_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif tick % 100 == 0:
                await asyncio.sleep(0)    # behind: catch up, but let the sockets be served
