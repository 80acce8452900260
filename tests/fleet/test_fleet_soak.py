"""Issue 16's soak: 10,000 simulated devices on one coordinator for 10 minutes (slow; RUN_SLOW=1).

The figures go to benchmarks/results/fleet_soak_10000.json with the load of the box beside them.
FLEET_SOAK_DEVICES / FLEET_SOAK_DURATION shrink it for a try on a smaller machine.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(2400)          # 10 min of traffic, the ramp, the drain and the summary
def test_ten_thousand_devices_for_ten_minutes():
    sys.path.insert(0, str(REPO / "benchmarks"))
    import fleet_soak

    devices = int(os.environ.get("FLEET_SOAK_DEVICES", 10000))
    duration = float(os.environ.get("FLEET_SOAK_DURATION", 600))
    out = REPO / "benchmarks" / "results" / f"fleet_soak_{devices}.json"
    assert fleet_soak.main(["--devices", str(devices), "--duration", str(duration),
                            "--connect-rate", "200", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["warm_up_reached"], "never were all devices online at once"
    assert r["lost"] == 0 and r["duplicated"] == 0 and r["results_created"] > 0
    assert r["online_min_after_warmup"] == devices, "not every device shown online after warm-up"
    assert r["coordinator_cpu_mean_cores"] <= 1.0, f"coordinator mean CPU {r['coordinator_cpu_mean_cores']} cores"
    assert r["coordinator_rss_growth_mb"] <= 100
    assert r["graph_lag_max_s"] <= 5.0
