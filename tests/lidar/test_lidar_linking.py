"""Transit model and global linking on constructed segments (no simulation needed)."""
import numpy as np
import pytest

from cloud_sync.lidar.linking import GlobalLinker, LinkerConfig
from cloud_sync.lidar.transit import TransitModel, heading_name
from edge_runtime.lidar.segment import TrackSegment


def walker_segment(sensor, track_id, x0, x1, speed, t0, height, embedding, y=0.0):
    """A straight walk along x between x0 and x1 sampled at 10 Hz."""
    duration = abs(x1 - x0) / speed
    times = np.round(t0 + np.arange(0, duration, 0.1), 3)
    xs = x0 + np.sign(x1 - x0) * speed * (times - t0)
    return TrackSegment(sensor, track_id, times, np.column_stack([xs, np.full_like(xs, y)]),
                        {"height": height}, np.asarray(embedding, np.float32))


def unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def test_transit_model_learns_the_detour_of_a_zone_pair():
    model = TransitModel(min_links=3)
    pair = ("s0>E", "s1<E")
    prior = model.negative_log_likelihood(pair, 6.0, 1.0, 6.0)
    for transit in (8.0, 8.2, 7.9, 8.1):        # people walk a 2 m detour
        model.learn(pair, transit, 1.0, 6.0)
    assert abs(model.pairs[pair].mean - 2.05) < 0.01
    assert model.negative_log_likelihood(pair, 8.0, 1.0, 6.0) < model.negative_log_likelihood(pair, 6.0, 1.0, 6.0)
    assert model.negative_log_likelihood(pair, 6.0, 1.0, 6.0) > prior
    assert heading_name(np.array([1.0, 0.1])) == "E" and heading_name(np.array([-1.0, 0.0])) == "W"


def test_linker_links_people_through_a_blind_zone_and_keeps_ids():
    # Two people leave s0 at the same time; speeds differ, so do heights and embeddings.
    a0 = walker_segment("s0", 1, 2, 15, 1.5, 0.0, 1.80, unit([1, 0, 0.1]))
    b0 = walker_segment("s0", 2, 2, 15, 1.0, 0.5, 1.60, unit([0, 1, 0.1]), y=1.0)
    a1 = walker_segment("s1", 1, 21, 38, 1.5, a0.t_end + 6 / 1.5, 1.81, unit([1, 0.05, 0.1]))
    b1 = walker_segment("s1", 2, 21, 38, 1.0, b0.t_end + 6 / 1.0, 1.61, unit([0.05, 1, 0.1]), y=1.0)
    linker = GlobalLinker(LinkerConfig(decision_delay_s=5.0))
    for segment in sorted([a0, b0, a1, b1], key=lambda s: s.t_end):
        linker.add(segment)
        linker.advance(segment.t_end)
    linker.finish()
    assert linker.links == {(a0.key, a1.key), (b0.key, b1.key)}
    assert linker.global_id[a0.key] == linker.global_id[a1.key] != linker.global_id[b0.key]
    ids_before = dict(linker.global_id)
    linker.advance(1e9)
    assert linker.global_id == ids_before


def test_appearance_breaks_a_tie_that_time_alone_cannot():
    """Same speed, same exit time: only height and embedding tell who is who."""
    a0 = walker_segment("s0", 1, 2, 15, 1.2, 0.0, 1.85, unit([1, 0, 0]))
    b0 = walker_segment("s0", 2, 2, 15, 1.2, 0.0, 1.55, unit([0, 1, 0]), y=1.0)
    gap = 6 / 1.2
    # At s1 their lateral positions swapped, so position cannot tell either.
    a1 = walker_segment("s1", 1, 21, 38, 1.2, a0.t_end + gap, 1.84, unit([1, 0.1, 0]), y=1.0)
    b1 = walker_segment("s1", 2, 21, 38, 1.2, b0.t_end + gap, 1.56, unit([0.1, 1, 0]), y=0.0)
    with_appearance = GlobalLinker(LinkerConfig(max_cost=6.0))
    for segment in (a0, b0, a1, b1):
        with_appearance.add(segment)
    with_appearance.finish()
    assert (a0.key, a1.key) in with_appearance.links and (b0.key, b1.key) in with_appearance.links


def test_segment_record_round_trip_has_no_points():
    segment = walker_segment("s0", 4, 0, 3, 1.0, 0.0, 1.7, unit([1, 2, 3]))
    record = segment.to_record()
    assert set(record) == {"sensor", "track_id", "t", "xy", "features", "embedding"}
    back = TrackSegment.from_record(record)
    assert back.key == segment.key
    np.testing.assert_allclose(back.xy, segment.xy, atol=1e-3)


def test_pair_cues_prefer_the_walker_who_keeps_pace_and_line():
    """Speed and sideways offset tell apart two people whose transit times fit equally."""
    from cloud_sync.lidar.pair_cues import CUES, pair_cues

    exit_a = walker_segment("s0", 1, 2, 15, 1.2, 0.0, 1.75, unit([1, 0, 0]))
    same = walker_segment("s1", 1, 21, 38, 1.2, exit_a.t_end + 6 / 1.2, 1.75, unit([1, 0, 0]))
    other = walker_segment("s1", 2, 21, 38, 1.8, exit_a.t_end + 6 / 1.2, 1.75, unit([1, 0, 0]), y=2.5)
    near, far = pair_cues(exit_a, same, 0.5, 0.05), pair_cues(exit_a, other, 0.5, 0.05)
    speed, sideways = CUES.index("speed_change2"), CUES.index("sideways_offset2")
    assert near[speed] < 0.01 < far[speed] and near[sideways] < 0.01 < far[sideways]
    linker = GlobalLinker(LinkerConfig(decision_delay_s=5.0))
    assert linker.pair_model is not None                      # the bundled model is used
    assert linker.pair_cost(exit_a, same) < linker.pair_cost(exit_a, other)


def test_bundled_pair_model_penalises_every_cue_and_refuses_other_cues(tmp_path):
    import json

    from cloud_sync.lidar.pair_cues import CUES, DEFAULT_MODEL, PairModel

    model = PairModel.load()
    assert len(model.weights) == len(CUES) and all(w < 0 for w in model.weights)   # each cue: less alike
    assert "tuning seeds" in model.source
    document = json.loads(DEFAULT_MODEL.read_text())
    document["cues"] = document["cues"][:-1]
    bad = tmp_path / "model.json"
    bad.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="refit"):
        PairModel.load(bad)


def test_a_late_arrival_across_sensors_still_links_but_an_early_one_does_not():
    """Someone who pauses 10 s in the blind zone: same height, pace and look on both sensors.
    The capped transit cost lets the other cues link them; the full Gaussian did not."""
    a0 = walker_segment("s0", 1, 2, 15, 1.2, 0.0, 1.80, unit([1, 0, 0.1]))
    late = walker_segment("s1", 1, 21, 38, 1.2, a0.t_end + 6 / 1.2 + 10.0, 1.80, unit([1, 0.02, 0.1]))
    early = walker_segment("s1", 2, 21, 38, 1.2, a0.t_end + 1.0, 1.80, unit([1, 0.02, 0.1]))
    capped, full = GlobalLinker(), GlobalLinker(LinkerConfig(late_transit_cap_nll=None))
    assert capped.pair_model is not None
    assert capped.pair_cost(a0, late) <= capped.config.max_cost < full.pair_cost(a0, late)
    assert capped.pair_cost(a0, early) == full.pair_cost(a0, early) > capped.config.max_cost
    # Same-sensor re-entries keep the full transit cost.
    again = walker_segment("s0", 3, 2, 15, 1.2, a0.t_end + 30.0, 1.80, unit([1, 0.02, 0.1]))
    assert capped.pair_cost(a0, again) == full.pair_cost(a0, again)
    model = TransitModel()
    assert model.negative_log_likelihood(("s0>E", "s1<E"), 20.0, 1.2, 6.0, late_cap=2.0) == 2.0
    assert model.negative_log_likelihood(("s0>E", "s1<E"), 1.0, 1.2, 6.0, late_cap=2.0) > 2.0



def test_a_walker_who_slowed_at_the_exit_is_not_called_impossibly_early():
    """On a learned zone pair (people walk straight through: detour ~0), a person slows to
    0.8 m/s over the exit track's last second and walks on at 1.3 m/s: the walked distance
    is the faster side's pace x the gap; the mean of both ends made the true link look
    faster than walking allows (an early arrival, never capped)."""
    walk = walker_segment("s0", 1, 2, 15, 1.3, 0.0, 1.80, unit([1, 0, 0.1]))
    slow = np.round(walk.t_end + np.arange(0.1, 1.05, 0.1), 3)
    times = np.concatenate([walk.times, slow])
    xy = np.vstack([walk.xy, np.column_stack([walk.xy[-1, 0] + 0.8 * (slow - walk.t_end), np.zeros_like(slow)])])
    slowed = TrackSegment("s0", 1, times, xy, {"height": 1.80}, walk.embedding)
    straight = 21.0 - float(slowed.xy[-1, 0])
    entry = walker_segment("s1", 1, 21, 38, 1.3, slowed.t_end + straight / 1.3, 1.80, unit([1, 0.02, 0.1]))
    faster, mean = GlobalLinker(), GlobalLinker(LinkerConfig(transit_speed="mean"))
    assert faster.pair_model is not None and faster.config.transit_speed == "faster"
    for linker in (faster, mean):
        for _ in range(3):
            linker.transit.learn(("s0>E", "s1<E"), 6.0 / 1.3, 1.3, 6.0)
    assert faster.pair_cost(slowed, entry) <= faster.config.max_cost < mean.pair_cost(slowed, entry)
    for linker in (faster, mean):
        linker.add(slowed)
        linker.add(entry)
        linker.finish()
    assert faster.links == {(slowed.key, entry.key)} and mean.links == set()
    with pytest.raises(ValueError, match="transit_speed"):
        GlobalLinker(LinkerConfig(transit_speed="median")).pair_cost(slowed, entry)
