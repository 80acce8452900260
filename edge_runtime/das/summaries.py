"""Per-minute traffic summaries from vehicle events (what a dashboard plots)."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np


def minute_summary(minute: int, events: Sequence[dict[str, Any]], t0: float | None = None) -> dict[str, Any]:
    """Counts and mean speeds of the vehicles whose ``t_center_s`` falls in ``minute``."""
    inside = [e for e in events if math.floor(e["t_center_s"] / 60.0) == minute]
    out: dict[str, Any] = {"type": "minute", "minute": minute, "t_start_s": 60.0 * minute,
                           "count": len(inside)}
    if t0 is not None:
        out["t_start_utc"] = t0 + 60.0 * minute
    for key, sign in (("increasing", 1), ("decreasing", -1)):
        group = [e for e in inside if e["direction"] == sign]
        out[f"count_{key}"] = len(group)
        out[f"mean_speed_{key}_kmh"] = (round(float(np.mean([abs(e["speed_kmh"]) for e in group])), 2)
                                        if group else None)
    out["cars"] = sum(e["class"] == "car" for e in inside)
    out["trucks"] = sum(e["class"] == "truck" for e in inside)
    return out
