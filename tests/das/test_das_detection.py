"""Acceptance on generated scenes: counts, close followers, speed, car/truck class."""
from __future__ import annotations

import numpy as np

from edge_runtime.das.evaluate import match


def _pooled(evaluated_scenes):
    scores = [match(e.truth, e.events, duration_s=e.scene.config.duration_s, edge_s=1.0)
              for e in evaluated_scenes]
    return scores


def test_count_f1_at_least_095_including_close_followers(evaluated_scenes):
    scores = _pooled(evaluated_scenes)
    tp, fp, fn = (sum(getattr(s, k) for s in scores) for k in ("tp", "fp", "fn"))
    f1 = 2 * tp / (2 * tp + fp + fn)
    print(f"count: tp={tp} fp={fp} fn={fn} F1={f1:.3f}")
    assert tp >= 100                     # enough vehicles for the figure to mean something
    assert f1 >= 0.95


def test_close_following_pairs_are_separated(evaluated_scenes):
    """Vehicles 0.8-1.8 s behind a same-direction leader: both must be found."""
    found = total = 0
    for e, score in zip(evaluated_scenes, _pooled(evaluated_scenes)):
        matched = {t["vid"] for t, _ in score.pairs}
        followers = [v for v in e.scene.vehicles if v.follows is not None]
        for v in followers:
            total += 2
            found += (v.vid in matched) + (v.follows in matched)
    print(f"close-following pairs: {found}/{total} vehicles found")
    assert total >= 20
    # the issue asks F1 >= 0.95 over all vehicles, pairs included (test above); this one keeps
    # the failure mode itself in view: the dasly-style prototype lost every pair < 1 s apart.
    # Since the quadrature envelope (issue 17) pairs 0.8-1.0 s apart (below that issue's
    # 1.0 s bar) were lost a little more often (40/44 before, 38/44 after); with the 14-40 Hz
    # band in the detection image and the contrast gate (issue 17, later): 42/44.
    assert found / total >= 0.85


def test_speed_mae_below_2_kmh(evaluated_scenes):
    errors = np.concatenate([s.speed_errors for s in _pooled(evaluated_scenes)])
    print(f"speed MAE {np.mean(np.abs(errors)):.3f} km/h over {errors.size} vehicles")
    assert np.mean(np.abs(errors)) <= 2.0


def test_car_truck_balanced_accuracy_at_least_09_with_confidence(evaluated_scenes):
    pairs = [p for s in _pooled(evaluated_scenes) for p in s.pairs]
    trucks = [d for t, d in pairs if t["cls"] == "truck"]
    cars = [d for t, d in pairs if t["cls"] == "car"]
    recall_truck = np.mean([d["class"] == "truck" for d in trucks])
    recall_car = np.mean([d["class"] == "car" for d in cars])
    balanced = 0.5 * (recall_truck + recall_car)
    print(f"balanced accuracy {balanced:.3f} (trucks {len(trucks)}, cars {len(cars)})")
    assert len(trucks) >= 15
    assert balanced >= 0.9
    conf = np.array([d["confidence"] for _, d in pairs])
    assert np.all((conf >= 0.5) & (conf <= 1.0))
    right = np.array([d["class"] == t["cls"] for t, d in pairs])
    assert conf[right].mean() > conf[~right].mean() if (~right).any() else True


def test_records_carry_entry_exit_and_direction(evaluated_scenes):
    for e in evaluated_scenes[:1]:
        for event in e.events:
            assert event["t_entry_s"] < event["t_center_s"] < event["t_exit_s"]
            assert event["direction"] == np.sign(event["speed_kmh"])
            assert event["class"] in ("car", "truck")
