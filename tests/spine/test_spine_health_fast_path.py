"""The heartbeat fast path accepts only what the field-by-field validation accepts, and lets
nothing through that it refuses (hostile values included: bools, NaN, infinities, huge ints)."""
from __future__ import annotations

import math
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from cloud_sync.protocol import ProtocolError
from cloud_sync.protocol import validate

EXAMPLES = 3000 if os.environ.get("RUN_SLOW") == "1" else 300
VALUES = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                   st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0, 0.0, 86400, 86400.5]),
                   st.text(max_size=3), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
                   st.lists(st.integers(), max_size=2))
KEYS = ("interval_s", "uptime_s", "cpu_percent", "mem", "outbox", "tasks")


def _slow_path_accepts(body: dict) -> bool:
    fast = validate._health_plainly_valid
    validate._health_plainly_valid = lambda body: False
    try:
        validate.validate_health(body)
        return True
    except ProtocolError:
        return False
    finally:
        validate._health_plainly_valid = fast


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.fixed_dictionaries({}, optional={key: VALUES for key in KEYS}))
def test_fast_path_accepts_a_subset_of_what_the_full_check_accepts(body):
    if validate._health_plainly_valid(body):
        assert _slow_path_accepts(body), body


def test_fast_path_takes_the_common_heartbeat_and_refuses_the_hostile_ones():
    heartbeat = {"interval_s": 1.0, "uptime_s": 12.5, "cpu_percent": 31.2, "mem": {}, "outbox": {}}
    assert validate._health_plainly_valid(heartbeat) and _slow_path_accepts(heartbeat)
    for bad in ({"interval_s": True}, {"interval_s": math.nan}, {"interval_s": 1, "uptime_s": math.inf},
                {"interval_s": 0}, {"interval_s": 1, "cpu_percent": 2**64}, {"interval_s": 1, "mem": []}):
        assert not validate._health_plainly_valid(bad)
        assert not _slow_path_accepts(bad), bad
