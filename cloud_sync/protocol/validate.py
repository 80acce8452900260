"""One validation function per message kind, and the size limits (counting: rejections.py).

``parse_message(kind, payload, device_id)`` is the single entry point used wherever
bytes come in from the broker (coordinator ingest, agent inbound): it enforces the
size limit of the kind *before* decoding, decodes, checks the envelope and then the
body schema of the kind. Everything wrong raises ``ProtocolError(reason, detail)``
with a reason from ``REASONS``; callers count it in a ``RejectionCounter`` and log it,
and never let it escape (a malformed message must not stop a process).
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable

from cloud_sync.protocol.codec import SCHEMA_VERSION, decode

KB = 1024
MB = 1024 * KB
# Largest payload accepted per kind (bytes on the wire).
SIZE_LIMITS: dict[str, int] = {
    "state": 4 * KB, "td": 256 * KB, "health": 64 * KB, "result": 1 * MB,
    "config_desired": 64 * KB, "config_reported": 64 * KB,
    "cmd": 256 * KB, "cmd_reply": 4 * MB, "task_request": 32 * MB, "task_reply": 32 * MB,
    "deploy": 256 * KB, "fl_global": 256 * KB, "fl_update": 32 * MB,
    "coordinator_state": 4 * KB, "receipt": 64 * KB,
    "deploy_order": 256 * KB,
    "other": 1 * MB,   # device-scoped topics a component defines itself
}
MAX_STRING = 64 * KB   # any single string in a control body
# Every integer that enters must fit SQLite's INTEGER (64-bit signed): a bigger one passed
# validation once, made the batch insert raise OverflowError and cost other devices' results.
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
# Envelope timestamps: not before the epoch (a device without a clock reports ~0 and its
# results are still kept) and not after 2100-01-01 (a wild value would sort after every
# real result and never age out of the dashboard's windows).
TS_MIN, TS_MAX = 0.0, 4_102_444_800.0
_PRINTABLE_ID = re.compile(r"^[\x21-\x7e]+$")
MAX_NESTING = 32       # containers inside a body (JSON/CBOR maps and lists)
MAX_ITEMS = 100_000    # values inside one body (a typed array counts as one)
REASONS = ("unknown_topic", "oversize", "undecodable", "not_envelope", "bad_version",
           "bad_envelope", "device_mismatch", "bad_body", "out_of_range",
           "store_error")   # the last: valid on the wire, refused by the coordinator's store
DEPLOY_STATES = ("queued", "downloading", "verifying", "activating", "healthy",
                 "rolled_back", "failed")


class ProtocolError(ValueError):
    """A message that breaks the protocol; ``reason`` is one of ``REASONS``."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# ----- small field checks ----------------------------------------------------------------------

def _bad(detail: str) -> ProtocolError:
    return ProtocolError("bad_body", detail)


def _out_of_range(detail: str) -> ProtocolError:
    return ProtocolError("out_of_range", detail)


def _int_in(value: int, name: str, low: int = INT64_MIN, high: int = INT64_MAX) -> int:
    if not low <= value <= high:
        raise _out_of_range(f"{name} = {value} is outside {low}..{high}")
    return value


def check_values(body: Any, where: str = "body") -> None:
    """Every value inside ``body`` within what the store and the graph can hold: integers
    64-bit signed, floats finite, nesting at most MAX_NESTING, at most MAX_ITEMS values.
    The reason names the path of the value (``body.tasks.0.n``).

    Iterative (a hostile 10,000-deep list must not hit Python's recursion limit here). This
    runs on the network thread for every message, so the pass that accepts keeps no paths;
    only a refused body is walked again to name where it went wrong."""
    if not _all_within(body):
        path, problem = _first_problem(body, with_path=True)
        raise ProtocolError(problem[0], problem[1].format(where=_path(where, path)))


def _all_within(body: Any) -> bool:
    """The accepting pass of ``_first_problem``, fast: containers are pushed, scalars are checked
    where they sit (no tuple per value). It was a quarter of the coordinator's GIL time at
    10,000 devices. Any doubt (an int or float subclass, an unknown type) goes to the full walk."""
    if type(body) not in (dict, list, tuple):
        return _first_problem(body, with_path=False) is None
    stack = [(body, 0)]
    seen = 1
    while stack:
        container, depth = stack.pop()
        if depth >= MAX_NESTING:
            return False
        values = container.values() if type(container) is dict else container
        seen += len(values)
        if seen > MAX_ITEMS:
            return False
        for value in values:
            kind = type(value)
            if kind is str or kind is bool or value is None:
                continue
            if kind is float:
                if value - value != 0.0:
                    return False
            elif kind is int:
                if not INT64_MIN <= value <= INT64_MAX:
                    return False
            elif kind is dict or kind is list or kind is tuple:
                stack.append((value, depth + 1))
            elif _first_problem(value, with_path=False) is not None:
                return False
    return True


def _first_problem(body: Any, with_path: bool):
    """None, or ``(path, (reason, detail template))`` of the first value out of bounds."""
    stack: list = [(body, 0, ())]
    seen = 0
    while stack:
        value, depth, path = stack.pop()
        seen += 1
        if seen > MAX_ITEMS:
            return path, ("bad_body", f"{{where}} holds more than {MAX_ITEMS} values")
        kind = type(value)
        if kind is int:
            if not INT64_MIN <= value <= INT64_MAX:
                return path, ("out_of_range", f"{{where}} = {value} does not fit 64 bits signed")
        elif kind is float:
            if value - value != 0.0:          # inf - inf and nan - nan are nan
                return path, ("out_of_range", f"{{where}} is not finite ({value})")
        elif kind is dict or kind is list or kind is tuple:
            if depth >= MAX_NESTING:
                return path, ("bad_body", f"{{where}} nests deeper than {MAX_NESTING} levels")
            if with_path:
                items = value.items() if kind is dict else enumerate(value)
                stack.extend((item, depth + 1, (*path, key)) for key, item in items)
            else:
                stack.extend((item, depth + 1, path) for item in (value.values() if kind is dict else value))
        elif isinstance(value, int) and not isinstance(value, bool):   # int subclasses (IntEnum)
            if not INT64_MIN <= value <= INT64_MAX:
                return path, ("out_of_range", f"{{where}} = {value} does not fit 64 bits signed")
        elif isinstance(value, float) and not math.isfinite(value):
            return path, ("out_of_range", f"{{where}} is not finite ({value})")
    return None


def _path(where: str, path: tuple) -> str:
    return ".".join([where, *map(str, path)])[:200]


def _field(body: dict, name: str, types: type | tuple[type, ...], required: bool = True) -> Any:
    value = body.get(name)
    if value is None:
        if required:
            raise _bad(f"missing field {name!r}")
        return None
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise _bad(f"field {name!r} is a bool, expected {types}")
    if not isinstance(value, types):
        raise _bad(f"field {name!r} has type {type(value).__name__}, expected {types}")
    if isinstance(value, str) and len(value) > MAX_STRING:
        raise _bad(f"field {name!r} is a string of {len(value)} chars (limit {MAX_STRING})")
    if isinstance(value, float) and not math.isfinite(value):
        raise _out_of_range(f"field {name!r} is not finite")
    if isinstance(value, int) and not isinstance(value, bool):
        _int_in(value, f"field {name!r}")
    return value


def _number_in(body: dict, name: str, low: float, high: float, required: bool = True,
               types: type | tuple[type, ...] = (int, float)) -> Any:
    """A numeric field within [low, high] (the reason names the field and the bounds)."""
    value = _field(body, name, types, required)
    if value is not None and not low <= value <= high:
        raise _out_of_range(f"field {name!r} = {value} is outside {low}..{high}")
    return value


def _short_str(body: dict, name: str, required: bool = True, limit: int = 128) -> str | None:
    value = _field(body, name, str, required)
    if value is not None and not 0 < len(value) <= limit:
        raise _bad(f"field {name!r} must have 1-{limit} chars")
    return value


NUMBER = (int, float)


# ----- one validator per kind (body only; the envelope is checked in parse_message) --------------

DAY_S = 86_400.0
VERSION_MAX = INT64_MAX


def validate_state(body: dict) -> None:
    _field(body, "online", bool)
    _number_in(body, "bdSeq", 0, INT64_MAX, required=False, types=int)


def validate_td(body: dict) -> None:
    _field(body, "@context", (str, list, dict))
    _short_str(body, "title", limit=256)
    _field(body, "properties", dict, required=False)


_NUMBER_TYPES = (int, float)    # exact types: bool (an int subclass) is not a number here


def _health_plainly_valid(body: dict) -> bool:
    """The common heartbeat, accepted in one expression (10,000 a second at 10k devices; the
    field-by-field checks below were ~5 us each). Only a subset of what they accept passes:
    NaN and infinities fail the comparisons; anything else goes the long way."""
    interval, uptime, cpu = body.get("interval_s"), body.get("uptime_s"), body.get("cpu_percent")
    mem, outbox, tasks = body.get("mem"), body.get("outbox"), body.get("tasks")
    return (type(interval) in _NUMBER_TYPES and 0 < interval <= DAY_S
            and (uptime is None or (type(uptime) in _NUMBER_TYPES and 0 <= uptime <= 100 * 365 * DAY_S))
            and (cpu is None or (type(cpu) in _NUMBER_TYPES and 0 <= cpu <= 100 * 1024))
            and (mem is None or type(mem) is dict) and (outbox is None or type(outbox) is dict)
            and (tasks is None or type(tasks) is dict))


def validate_health(body: dict) -> None:
    if _health_plainly_valid(body):
        return
    if _number_in(body, "interval_s", 0, DAY_S) == 0:
        raise _out_of_range("field 'interval_s' must be > 0")
    _number_in(body, "uptime_s", 0, 100 * 365 * DAY_S, required=False)
    _number_in(body, "cpu_percent", 0, 100 * 1024, required=False)   # up to 1,024 cores
    _field(body, "mem", dict, required=False)
    _field(body, "outbox", dict, required=False)
    _field(body, "tasks", dict, required=False)


def validate_result(body: dict) -> None:
    """Result records are the task's own dicts; only their shape is checked here."""


def validate_config_desired(body: dict) -> None:
    _number_in(body, "version", 0, VERSION_MAX, types=int)
    _field(body, "config", dict)


def validate_config_reported(body: dict) -> None:
    _number_in(body, "version", 0, VERSION_MAX, types=int)
    _field(body, "config", dict)
    _field(body, "applied", bool, required=False)
    _field(body, "error", str, required=False)


def validate_request(body: dict) -> None:
    """``cmd`` and ``task_request``: correlation id + arguments."""
    _short_str(body, "corr")
    _field(body, "args", dict, required=False)


def validate_reply(body: dict) -> None:
    """``cmd_reply`` and ``task_reply``: correlation id, ok flag, result or error."""
    _short_str(body, "corr")
    _field(body, "ok", bool)
    _field(body, "error", str, required=False)


def validate_deploy(body: dict) -> None:
    state = _field(body, "state", str, required=False)
    if state is not None and state not in DEPLOY_STATES:
        raise _bad(f"deploy state {state!r} is not one of {DEPLOY_STATES}")


def _round(body: dict) -> None:
    value = _field(body, "round", (int, str))
    if isinstance(value, str) and not 0 < len(value) <= 128:
        raise _bad("field 'round' must have 1-128 chars")
    if isinstance(value, int):
        _int_in(value, "field 'round'", 0)


def validate_fl_global(body: dict) -> None:
    _round(body)
    _short_str(body, "sha256", required=False)


def validate_fl_update(body: dict) -> None:
    _round(body)


def validate_coordinator_state(body: dict) -> None:
    _field(body, "online", bool)
    _field(body, "receipts", bool, required=False)


MAX_RECEIPT_RANGES = 4096


def validate_receipt(body: dict) -> None:
    """``{"seqs": [[first, last], ...]}``: the device's durable seqs the coordinator has committed."""
    ranges = _field(body, "seqs", list)
    if len(ranges) > MAX_RECEIPT_RANGES:
        raise _bad(f"field 'seqs' has {len(ranges)} ranges (limit {MAX_RECEIPT_RANGES})")
    for i, pair in enumerate(ranges):
        if not (isinstance(pair, list) and len(pair) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in pair)):
            raise _bad(f"seqs[{i}] must be [first, last] integers")
        _int_in(pair[0], f"seqs[{i}][0]", 1)
        _int_in(pair[1], f"seqs[{i}][1]", pair[0])


VALIDATORS: dict[str, Callable[[dict], None]] = {
    "state": validate_state, "td": validate_td, "health": validate_health,
    "result": validate_result, "config_desired": validate_config_desired,
    "config_reported": validate_config_reported, "cmd": validate_request,
    "cmd_reply": validate_reply, "task_request": validate_request,
    "task_reply": validate_reply, "deploy": validate_deploy,
    "fl_global": validate_fl_global, "fl_update": validate_fl_update,
    "coordinator_state": validate_coordinator_state, "receipt": validate_receipt,
    "deploy_order": validate_result,
    "other": validate_result,
}


def validate_envelope(message: Any, device_id: str | None) -> dict:
    """Check the envelope fields; ``device_id`` (from the topic) must match ``dev`` when given."""
    if not isinstance(message, dict):
        raise ProtocolError("not_envelope", f"payload decodes to {type(message).__name__}, not a map")
    if message.get("v") != SCHEMA_VERSION:
        raise ProtocolError("bad_version", f"schema version {message.get('v')!r}, "
                                           f"expected {SCHEMA_VERSION}")
    msg_id, dev, seq, ts = message.get("id"), message.get("dev"), message.get("seq"), message.get("ts")
    if not isinstance(msg_id, str) or not 8 <= len(msg_id) <= 64:
        raise ProtocolError("bad_envelope", "id must be a string of 8-64 chars")
    if not _PRINTABLE_ID.match(msg_id):   # it is a primary key: no control chars, no lone surrogates
        raise ProtocolError("bad_envelope", "id must be printable ASCII (e.g. hex or a UUID)")
    if not isinstance(dev, str) or not 0 < len(dev) <= 64:
        raise ProtocolError("bad_envelope", "dev must be a string of 1-64 chars")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise ProtocolError("bad_envelope", "seq must be a non-negative integer")
    if seq > INT64_MAX:
        raise _out_of_range(f"seq = {seq} is over {INT64_MAX} (64-bit signed)")
    if not isinstance(ts, (int, float)) or isinstance(ts, bool) or not math.isfinite(ts):
        raise ProtocolError("bad_envelope", "ts must be a finite number (unix seconds)")
    if not TS_MIN <= ts <= TS_MAX:
        raise _out_of_range(f"ts = {ts} is outside {TS_MIN:.0f}..{TS_MAX:.0f} (unix seconds, "
                            f"1970-2100)")
    if not isinstance(message.get("body"), dict):
        raise ProtocolError("bad_envelope", "body must be a map")
    if not isinstance(message.get("historical", False), bool):
        raise ProtocolError("bad_envelope", "historical must be a bool")
    if device_id is not None and dev != device_id:
        raise ProtocolError("device_mismatch", f"envelope dev {dev!r} != topic device {device_id!r}")
    return message


def parse_message(kind: str, payload: bytes, device_id: str | None) -> dict:
    """Size-check, decode and validate one message of ``kind``; return the envelope."""
    limit = SIZE_LIMITS.get(kind)
    if limit is None:
        raise ProtocolError("unknown_topic", f"no message kind {kind!r}")
    if len(payload) > limit:
        raise ProtocolError("oversize", f"{len(payload)} bytes > {limit} allowed for {kind}")
    try:
        message = decode(payload)
    except RecursionError:
        raise ProtocolError("undecodable", "nesting too deep") from None
    except Exception as exc:  # any decoder failure on hostile bytes is a rejection, not a crash
        raise ProtocolError("undecodable", f"{type(exc).__name__}: {str(exc)[:200]}") from None
    validate_envelope(message, device_id)
    VALIDATORS[kind](message["body"])   # names the field when a known one is wrong
    check_values(message["body"])
    return message
