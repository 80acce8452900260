"""Device liveness and latest health, kept in memory and mirrored to the store in batches.

At fleet scale nearly every message is a heartbeat that changes nothing but a timestamp.
Writing each one as its own ``UPDATE devices`` + ``INSERT INTO health`` made heartbeats the
coordinator's main cost (four statements per message, and SQLite steps release and retake
the GIL each time), so a 3,000-device fleet already fell behind. Here:

- ``last_seen``, the latest health body and the heartbeat interval live in memory; the rows
  of the devices that changed are written in one ``executemany`` when the ingest queue runs
  empty or every ``DIRTY_WRITE_S`` (the table is at most that stale, the health body at most
  ``HEALTH_MIRROR_S``; online/offline changes are still written at once, in the transaction
  that makes them);
- the health history keeps one row per device per ``HEALTH_EVERY_S`` (a down-sampled series,
  ``HEALTH_KEEP`` rows deep per device, pruned per device as it fills, not by a sweep);
- the network thread notes each device's last arrival (``note_arrival``), so a writer that is
  behind can never make the heartbeat monitor time out devices whose heartbeats sit in its
  queue; a device has at most one timeout in flight.
"""
from __future__ import annotations

import collections
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cloud_sync.coordinator.events import Event
from cloud_sync.coordinator.store import execute_rows

HEALTH_EVERY_S = 5.0      # one stored health row per device per this many seconds
HEALTH_KEEP = 720         # rows kept per device: one hour at HEALTH_EVERY_S
DIRTY_WRITE_S = 5.0       # the devices table's last_seen lags memory by at most this under load
HEALTH_MIRROR_S = 15.0    # ... and its health body by at most this (json.dumps per heartbeat was 5 %)
NOT_TRAFFIC = ("timeout", "rejected", "config_desired")   # inbound kinds not sent by the device
_INSERT_HEALTH = "INSERT INTO health(device_id, ts, body) VALUES "
# The mirror of many devices' rows in one statement per 100 devices (not one step per device:
# see store.execute_rows). CASTs: PostgreSQL types a VALUES column of NULL parameters as text.
_MIRROR_HEAD = "UPDATE devices SET last_seen = CAST(v.column1 AS DOUBLE PRECISION), " \
    "health = COALESCE(CAST(v.column2 AS TEXT), devices.health), " \
    "heartbeat_s = COALESCE(CAST(v.column3 AS DOUBLE PRECISION), devices.heartbeat_s), " \
    "online = CASE WHEN devices.state_online = 1 THEN 1 ELSE devices.online END FROM (VALUES "
_MIRROR_TAIL = ") AS v WHERE devices.device_id = v.column4"


@dataclass
class DeviceStatus:
    online: bool = False
    state_online: bool = False
    bd_seq: int | None = None
    last_seen: float | None = None
    heartbeat_s: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    health: dict[str, Any] | None = None      # latest body, written with the dirty rows
    history_ts: float | None = None           # device time of the last stored health row
    history_rows: int = 0                     # health rows stored for this device
    timeout_pending: bool = False             # a timeout is queued; do not queue another
    health_mirrored: float = float("-inf")    # monotonic time the health body was last mirrored


class DeviceBook:
    def __init__(self, health_every_s: float = HEALTH_EVERY_S, health_keep: int = HEALTH_KEEP):
        self.health_every_s = health_every_s
        self.health_keep = health_keep
        self.status: dict[str, DeviceStatus] = {}
        self.lock = threading.Lock()             # guards adding to / listing ``status``
        # device -> wall time its last message arrived, oldest arrival first (moved to the end at
        # each arrival), so the monitor reads only the devices silent longer than the shortest
        # allowance instead of the whole fleet twice a second (20 % of the GIL at 10k devices)
        self.arrived: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._arrival_lock = threading.Lock()
        self._dirty: set[str] = set()
        self._created: list[str] = []            # devices first seen in the open transaction
        self._history: list[tuple] = []          # health rows for the open transaction
        self._last_dirty_write = time.monotonic()

    def load(self, store) -> None:
        for row in store.query("SELECT device_id, online, state_online, bd_seq, last_seen, "
                               "heartbeat_s FROM devices"):
            self.status[row[0]] = DeviceStatus(bool(row[1]), bool(row[2]), row[3], row[4], row[5])
        for device_id, status in sorted(self.status.items(), key=lambda item: item[1].last_seen or 0.0):
            if status.last_seen is not None:
                self.arrived[device_id] = status.last_seen
        for device_id, rows in store.query("SELECT device_id, COUNT(*) FROM health GROUP BY device_id"):
            if device_id in self.status:
                self.status[device_id].history_rows = rows

    # ----- network thread ------------------------------------------------------------------------
    def note_arrival(self, kind: str, device_id: str, received: float) -> None:
        if device_id and kind not in NOT_TRAFFIC:
            with self._arrival_lock:
                self.arrived[device_id] = received
                self.arrived.move_to_end(device_id)

    def timed_out(self, now: float, offline_after, shared: dict[str, float | None] | None = None,
                  floor_s: float = 0.0, not_before: float = float("-inf")) -> list[tuple[str, float]]:
        """(device, last arrival) of online devices silent for longer than
        ``offline_after(heartbeat_s)``; each is marked so it is reported only once.

        ``shared`` (replicas): device -> last_seen of the devices the shared store says are
        online; then that list, not this replica's memory, says who is online, and the
        newest of the store's and this replica's own arrivals says when each was heard.
        ``floor_s``: the shortest allowance any device has (only devices silent longer are read).
        ``not_before``: silence counts from this wall time at the earliest (the coordinator was
        not reading before it)."""
        if now - not_before <= floor_s:
            return []
        if shared is None:
            return self._timed_out_alone(now, offline_after, floor_s, not_before)
        with self.lock:
            statuses = list(self.status.items())
        out = []
        for device_id, status in statuses:
            if (not status.online if shared is None else device_id not in shared) or status.timeout_pending:
                continue
            last = max(status.last_seen or 0.0, self.arrived.get(device_id, 0.0),
                       (shared or {}).get(device_id) or 0.0)
            if last and now - max(last, not_before) > offline_after(status.heartbeat_s):
                status.timeout_pending = True
                out.append((device_id, last))
        return out

    def _timed_out_alone(self, now: float, offline_after, floor_s: float,
                         not_before: float) -> list[tuple[str, float]]:
        with self._arrival_lock:
            silent = []
            for device_id, last in self.arrived.items():      # oldest arrival first
                if now - last <= floor_s:
                    break
                silent.append((device_id, last))
        out = []
        for device_id, last in silent:
            status = self.status.get(device_id)
            if status is None or not status.online or status.timeout_pending:
                continue
            last = max(last, status.last_seen or 0.0)
            if now - max(last, not_before) > offline_after(status.heartbeat_s):
                status.timeout_pending = True
                out.append((device_id, last))
        return out

    # ----- writer thread -------------------------------------------------------------------------
    def device(self, db, device_id: str) -> DeviceStatus:
        status = self.status.get(device_id)
        if status is None:
            db.execute("INSERT OR IGNORE INTO devices(device_id) VALUES (?)", (device_id,))
            with self.lock:
                status = self.status[device_id] = DeviceStatus()
            self._created.append(device_id)
        return status

    def touch(self, db, device_id: str, received: float) -> list[Event]:
        """Traffic from a device whose last state was 'online' brings it back online."""
        status = self.device(db, device_id)
        status.last_seen = max(status.last_seen or 0.0, received)
        self._dirty.add(device_id)
        if device_id not in self.arrived:     # written without passing submit (tools, tests)
            with self._arrival_lock:
                self.arrived[device_id] = received
                self.arrived.move_to_end(device_id, last=False)   # old news: the front
        if status.state_online and not status.online:
            status.online = True
            db.execute("UPDATE devices SET online = 1 WHERE device_id = ?", (device_id,))
            return [Event("state", device_id, {"online": True, "reason": "traffic"}, received)]
        return []

    def health(self, db, device_id: str, body: dict[str, Any], ts: float) -> None:
        status = self.device(db, device_id)
        status.heartbeat_s = float(body["interval_s"])
        status.health = body
        self._dirty.add(device_id)
        if status.history_ts is not None and 0 <= ts - status.history_ts < self.health_every_s:
            return
        status.history_ts = ts
        self._history.append((device_id, ts, json.dumps(body)))
        status.history_rows += 1
        if status.history_rows > self.health_keep + max(10, self.health_keep // 10):
            self.write_history(db)
            db.execute("DELETE FROM health WHERE rowid IN (SELECT rowid FROM health WHERE device_id = ? "
                       "ORDER BY ts DESC LIMIT -1 OFFSET ?)", (device_id, self.health_keep))
            status.history_rows = self.health_keep

    def timeout(self, db, device_id: str, last_arrival: float, shared: bool = False) -> Event | None:
        """The monitor's verdict, unless the device was heard from since it was made (or, on a
        lone coordinator, is offline already; a replica leader goes by the shared store)."""
        status = self.device(db, device_id)
        status.timeout_pending = False
        if (not status.online and not shared) or self.arrived.get(device_id, 0.0) > last_arrival:
            return None
        status.online = False
        db.execute("UPDATE devices SET online = 0 WHERE device_id = ?", (device_id,))
        return Event("state", device_id, {"online": False, "reason": "heartbeat timeout"}, time.time())

    def write_history(self, db) -> None:
        """Insert the health rows the open transaction has gathered (called before it commits)."""
        rows, self._history = self._history, []
        execute_rows(db, _INSERT_HEALTH, rows)

    def write_dirty(self, db, queue_empty: bool) -> set[str]:
        """Mirror the changed devices' last_seen/health rows; returns them (to restore on rollback)."""
        if not self._dirty or not (queue_empty or time.monotonic() - self._last_dirty_write >= DIRTY_WRITE_S):
            return set()
        dirty, self._dirty = self._dirty, set()
        self._last_dirty_write = time.monotonic()
        rows = []
        now = time.monotonic()
        for device_id in dirty:
            s = self.status[device_id]
            health = None                      # NULL keeps the stored body (COALESCE below)
            if s.health is not None and now - s.health_mirrored >= HEALTH_MIRROR_S:
                health, s.health_mirrored = json.dumps(s.health), now
            rows.append((s.last_seen, health, s.heartbeat_s, device_id))
        # Traffic from a device whose last state said online makes it online in the store: with
        # replicas another one (the leader) may have timed it out since this one last looked.
        execute_rows(db, _MIRROR_HEAD, rows, _MIRROR_TAIL)
        return dirty

    def committed(self) -> None:
        self._created.clear()

    def rolled_back(self, dirty: set[str]) -> None:
        """The transaction's rows are gone: forget devices it created, re-mark what it mirrored."""
        self._dirty |= dirty
        self._history.clear()
        with self.lock:
            for device_id in self._created:
                self.status.pop(device_id, None)
                self._dirty.discard(device_id)
        self._created.clear()
