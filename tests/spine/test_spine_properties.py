"""Property-based tests (Hypothesis) for the payload validators, the envelope codec and ingest.

The properties that matter for issue 15: hostile bytes only ever give a ``ProtocolError``
(never another exception); a message that passes validation can always be stored (so one
message can never sink a batch); valid envelopes round-trip through the codec exactly.
Bounded examples in the default suite; RUN_SLOW=1 runs many more.
"""
from __future__ import annotations

import json
import os

import cbor2
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud_sync.coordinator.events import EventHub
from cloud_sync.coordinator.ingest import Inbound, IngestWriter
from cloud_sync.coordinator.store import Store
from cloud_sync.protocol import REASONS, SIZE_LIMITS, ProtocolError, decode, encode, envelope, parse_message
from cloud_sync.protocol.validate import INT64_MAX, INT64_MIN, TS_MAX

SLOW = os.environ.get("RUN_SLOW") == "1"
EXAMPLES = 3000 if SLOW else 60
FAST = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

int64 = st.integers(INT64_MIN, INT64_MAX)
any_int = st.one_of(int64, st.integers(-(2**80), 2**80))
seqs = st.one_of(st.integers(0, INT64_MAX), st.integers(INT64_MAX - 2, 2**80), any_int)
timestamps = st.one_of(st.floats(0, TS_MAX), st.floats(allow_nan=True, allow_infinity=True))
# text with every code point, lone surrogates included (JSON can carry "\ud800")
any_text = st.one_of(st.text(st.characters(exclude_categories=()), max_size=40),
                     st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF,
                                           exclude_categories=()), min_size=1, max_size=3))
scalars = st.one_of(st.none(), st.booleans(), any_int, st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=40), any_text)
hostile_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=5)), max_leaves=25)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), int64, st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=40)),
    lambda inner: st.one_of(st.lists(inner, max_size=5),
                            st.dictionaries(st.text(max_size=10), inner, max_size=5)), max_leaves=25)
bodies = st.dictionaries(st.text(max_size=10), json_values, max_size=6)
STORED = ["result", "health", "state", "td", "config_reported", "deploy"]
KINDS = sorted(SIZE_LIMITS)

# A valid body per kind, then fields overwritten with anything at all.
BASE = {"state": {"online": True, "bdSeq": 3}, "td": {"@context": "x", "title": "t"},
        "health": {"interval_s": 1.0}, "config_reported": {"version": 1, "config": {}},
        "config_desired": {"version": 1, "config": {}}, "cmd": {"corr": "c" * 12},
        "task_request": {"corr": "c" * 12}, "cmd_reply": {"corr": "c" * 12, "ok": True},
        "task_reply": {"corr": "c" * 12, "ok": True}, "deploy": {"state": "queued"},
        "fl_global": {"round": 1}, "fl_update": {"round": 1}, "coordinator_state": {"online": True}}
FIELDS = sorted({key for body in BASE.values() for key in body} | {"bdSeq", "uptime_s", "cpu_percent",
                                                                     "sha256", "error", "applied"})


def _parse(kind: str, payload: bytes):
    """parse_message, with the one property every call must keep: ProtocolError or a message."""
    try:
        return parse_message(kind, payload, "dev-1")
    except ProtocolError as exc:
        assert exc.reason in REASONS
        return None


@FAST
@given(kind=st.sampled_from(KINDS), payload=st.binary(max_size=300))
def test_random_bytes_only_ever_give_a_protocol_error(kind, payload):
    _parse(kind, payload)


@FAST
@given(kind=st.sampled_from(KINDS), data=st.data())
def test_hostile_cbor_and_json_maps_only_ever_give_a_protocol_error(kind, data):
    message = envelope("dev-1", data.draw(seqs), dict(BASE.get(kind, {})), ts=data.draw(timestamps))
    for key in data.draw(st.lists(st.sampled_from(["v", "id", "dev", "seq", "ts", "body", "historical"]),
                                  max_size=3)):
        message[key] = data.draw(hostile_values)
    for key in data.draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        if isinstance(message.get("body"), dict):
            message["body"][key] = data.draw(hostile_values)
    as_cbor = data.draw(st.booleans())
    try:
        payload = cbor2.dumps(message) if as_cbor else json.dumps(message).encode()
    except (ValueError, TypeError, OverflowError):
        return   # not representable in that encoding
    parsed = _parse(kind, payload)
    if parsed is not None:   # accepted: then it is within every bound
        assert INT64_MIN <= parsed["seq"] <= INT64_MAX and 0 <= parsed["ts"] <= TS_MAX


@FAST
@given(body=bodies, seq=st.integers(0, INT64_MAX), ts=st.floats(0, TS_MAX))
def test_envelopes_round_trip_through_the_codec(body, seq, ts):
    message = envelope("dev-1", seq, body, ts=ts)
    assert decode(encode(message)) == message


@FAST
@given(dtype=st.sampled_from(["uint8", "int8", "<i2", "<i4", "<i8", "<f2", "<f4", "<f8", "<u4"]),
       shape=st.lists(st.integers(0, 4), min_size=1, max_size=3), seed=st.integers(0, 2**32 - 1))
def test_arrays_round_trip_with_dtype_and_shape(dtype, shape, seed):
    array = (np.random.default_rng(seed).random(shape) * 100).astype(dtype)
    back = decode(encode(envelope("dev-1", 1, {"x": array})))["body"]["x"]
    assert back.dtype == array.dtype and back.shape == array.shape
    assert np.array_equal(back, array, equal_nan=True)


@settings(max_examples=max(20, EXAMPLES // 3), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_whatever_validation_accepts_the_store_can_hold(tmp_path_factory, data):
    """The property the seq = 2**64 loss broke: validated ⇒ storable, for every stored kind."""
    store = Store(tmp_path_factory.mktemp("prop"))
    writer = IngestWriter(store, EventHub())
    items = []
    for i in range(data.draw(st.integers(1, 8))):
        kind = data.draw(st.sampled_from(STORED))
        body = dict(BASE.get(kind, {}))
        body.update(data.draw(st.dictionaries(st.sampled_from(FIELDS + ["x", "y"]), hostile_values,
                                              max_size=3)))
        msg_id = data.draw(st.one_of(st.just(f"msg-{i:08d}"), any_text.map(lambda t: f"{t}-{i:08d}")))
        message = envelope("dev-1", data.draw(seqs), body, msg_id=msg_id, ts=data.draw(timestamps))
        try:   # JSON carries what CBOR cannot (lone surrogates), CBOR what JSON cannot
            payload = cbor2.dumps(message) if data.draw(st.booleans()) else json.dumps(message).encode()
        except (ValueError, TypeError, OverflowError):
            continue
        parsed = _parse(kind, payload)
        if parsed is not None:
            items.append(Inbound(kind, "dev-1", "t" if kind in ("result", "deploy") else None,
                                 parsed, payload, 1.0, f"t/{kind}"))
    writer._write(items)    # raises if a validated message cannot be stored
    assert store.count_results() == len({i.message["id"] for i in items if i.kind == "result"})
    store.close()


deep_or_wide = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=40), st.tuples(inner, inner),
    st.dictionaries(st.text(max_size=4), inner, max_size=8)), max_leaves=400)


@FAST
@given(body=st.one_of(hostile_values, deep_or_wide))
def test_the_fast_accepting_walk_agrees_with_the_full_one(body):
    """check_values accepts through _all_within (speed) and names problems through
    _first_problem: both must say the same about every body."""
    from cloud_sync.protocol import validate

    assert validate._all_within(body) == (validate._first_problem(body, with_path=False) is None)


def test_the_fast_walk_keeps_the_nesting_and_size_limits():
    from cloud_sync.protocol import validate

    deep: list = []
    node = deep
    for _ in range(validate.MAX_NESTING + 1):
        node.append([])
        node = node[0]
    assert not validate._all_within({"x": deep})
    assert not validate._all_within({"x": [0] * validate.MAX_ITEMS})
    assert validate._all_within({"x": [0] * (validate.MAX_ITEMS - 2)})


def _json_verdict(payload: bytes):
    try:
        return "value", json.loads(payload.decode("utf-8"))
    except Exception as exc:   # noqa: BLE001 - the verdict compared is the exception's type
        return "error", type(exc)


def _decode_verdict(payload: bytes):
    try:
        return "value", decode(payload)
    except Exception as exc:   # noqa: BLE001
        return "error", type(exc)


@FAST
@given(st.one_of(
    st.dictionaries(st.text(max_size=10), hostile_values, max_size=6).map(
        lambda d: json.dumps(d, ensure_ascii=False, allow_nan=True).encode("utf-8", "surrogatepass")),
    st.binary(max_size=80).map(lambda b: b"{" + b),
    st.lists(st.sampled_from([b'{"a":', b"NaN", b"-Infinity", b"1e400", b"123456789012345678901234567890",
                              b'"\\ud800"', b'"\xff"', b"}", b",", b'"a":1', b"[", b"]", b"-0", b"0.1e-400",
                              b'{"a":1,"a":2}']), min_size=1, max_size=8).map(lambda parts: b"{" + b"".join(parts))))
def test_the_fast_json_decoder_gives_exactly_json_s_value_or_json_s_error(payload):
    """decode() takes orjson's fast path where installed (the coordinator), json's elsewhere;
    for any payload the coordinator must see what json alone would give: the same value
    (NaN, big integers, duplicate keys, lone surrogates included) or the same error."""
    expected, got = _json_verdict(payload), _decode_verdict(payload)
    if expected[0] == "value" and got[0] == "value":
        assert json.dumps(got[1], allow_nan=True) == json.dumps(expected[1], allow_nan=True)
        assert type(got[1]) is type(expected[1])
    else:
        assert got == expected
