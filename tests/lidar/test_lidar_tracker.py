"""The per-sensor tracker: identities across a crossing, AB3DMOT birth/death rules."""
import numpy as np

from edge_runtime.lidar.config import TrackerConfig
from edge_runtime.lidar.tracker import MultiObjectTracker


def test_two_crossing_walkers_keep_their_ids():
    rng = np.random.default_rng(0)
    tracker = MultiObjectTracker()
    ids_a, ids_b = set(), set()
    for k in range(60):
        t = k * 0.1
        a = np.array([0.0 + 1.3 * t, 0.0 + 0.5 * t])          # they cross at t ≈ 3.3 s, 0.8 m apart
        b = np.array([8.0 - 1.2 * t, 2.5 - 0.5 * t + 0.8])
        observed = np.vstack([a, b]) + rng.normal(0, 0.05, (2, 2))
        seen, ended = tracker.step(t, observed)
        assert not ended
        for track in seen:
            nearest_a = np.linalg.norm(track.filter.position - a) < np.linalg.norm(track.filter.position - b)
            (ids_a if nearest_a else ids_b).add(track.track_id)
    assert len(ids_a) == 1 and len(ids_b) == 1 and ids_a != ids_b


def test_born_after_three_hits_and_dies_after_two_misses():
    tracker = MultiObjectTracker(TrackerConfig(min_hits=3, max_misses=2, lone_max_misses=0))
    confirmed_at = None
    for k in range(5):
        seen, _ = tracker.step(k * 0.1, np.array([[k * 0.1, 0.0]]))
        if seen and confirmed_at is None:
            confirmed_at = k
    assert confirmed_at == 2                       # third hit
    ended_at = None
    for k in range(5, 10):
        _, ended = tracker.step(k * 0.1, np.zeros((0, 2)))
        if ended:
            ended_at = k
            assert ended[0].times[-1] == 0.4
            break
    assert ended_at == 7                           # the third miss ends it


def test_tentative_track_dies_on_first_miss_and_time_must_advance():
    tracker = MultiObjectTracker()
    tracker.step(0.0, np.array([[0.0, 0.0]]))
    _, ended = tracker.step(0.1, np.zeros((0, 2)))
    assert ended == [] and tracker.tracks == []
    try:
        tracker.step(0.05, np.zeros((0, 2)))
    except ValueError as exc:
        assert "time order" in str(exc)
    else:
        raise AssertionError("going back in time must be refused")


def test_a_track_coasts_through_the_blind_cone_and_keeps_its_id():
    """A person walking under the mast is unseen for 2 s; with the blind zone known the track
    survives and picks the person up again, without it the track dies and a new id is born."""
    import numpy as np

    from edge_runtime.lidar.tracker import MultiObjectTracker

    def walk(tracker):
        ids = set()
        for frame in range(80):
            t, x = frame * 0.1, -4.0 + 1.2 * frame * 0.1
            seen, _ = tracker.step(t, np.zeros((0, 2)) if abs(x) < 1.2 else np.array([[x, 0.3]]))
            ids |= {track.track_id for track in seen}
        return ids

    blind = lambda xy: np.hypot(xy[:, 0], xy[:, 1]) < 1.5      # noqa: E731
    assert len(walk(MultiObjectTracker(blind=blind))) == 1
    assert len(walk(MultiObjectTracker())) == 2


def test_head_and_shoulder_cluster_passes_only_where_legs_cannot_be_seen():
    import numpy as np

    from edge_runtime.lidar.config import PersonConfig
    from edge_runtime.lidar.person_filter import ClusterStats, person_mask

    stats = ClusterStats(count=np.array([40]), centre_xy=np.array([[2.5, 0.0]]), top=np.array([1.75]),
                         bottom=np.array([1.45]), extent=np.array([[0.4, 0.5]]))
    assert not person_mask(stats, PersonConfig())[0]
    assert person_mask(stats, PersonConfig(), lowest_visible=np.array([1.4]))[0]
    assert not person_mask(stats, PersonConfig(), lowest_visible=np.array([0.2]))[0]


def _crossing_ids(config):
    """Two people cross 0.25 m apart, walking opposite ways: while they are closer than 0.8 m
    the sensor sees one cluster at their midpoint. Returns the ids that followed each walker."""
    tracker = MultiObjectTracker(config)
    ids_a, ids_b = [], []
    for k in range(60):
        t = k * 0.1
        a, b = np.array([-3.6 + 1.2 * t, 0.0]), np.array([3.6 - 1.2 * t, 0.25])
        observed = np.array([(a + b) / 2]) if np.linalg.norm(a - b) < 0.8 else np.vstack([a, b])
        seen, _ = tracker.step(t, observed)
        if len(observed) == 2:
            for track in seen:
                near_a = np.linalg.norm(track.filter.position - a) < np.linalg.norm(track.filter.position - b)
                (ids_a if near_a else ids_b).append(track.track_id)
    return set(ids_a), set(ids_b)


def test_a_track_merged_into_a_neighbours_cluster_keeps_its_id():
    """Merge coasting (``merge_radius_m``): the walker whose detection vanished into the other's
    cluster keeps coasting and is picked up again when they part; without it the track dies
    after two misses and the walker comes out with a new id."""
    ids_a, ids_b = _crossing_ids(TrackerConfig())
    assert len(ids_a) == 1 and len(ids_b) == 1 and ids_a != ids_b
    ids_a, ids_b = _crossing_ids(TrackerConfig(merge_radius_m=0.0))
    assert len(ids_a | ids_b) == 3


def _edge_handover(outside):
    """Walker A leaves the range (8 m) behind a standing person at 3 m; walker B enters at the
    edge 0.4 s later, walking in. Returns (A's id, B's ids)."""
    tracker = MultiObjectTracker(TrackerConfig(), outside=outside)
    id_a, ids_b = None, set()
    for k in range(45):
        t = k * 0.1
        observed = [np.array([3.0, 0.0])]
        xa = 6.0 + 1.2 * t
        if xa < 8.0:
            observed.append(np.array([xa, 0.0]))
        t_b = t - 2.1                               # A's last detection is at t = 1.6 s
        if t_b >= 0:
            observed.append(np.array([8.0 - 1.2 * t_b, 0.9]))
        seen, _ = tracker.step(t, np.array(observed))
        for track in seen:
            position = track.filter.position
            if t_b < 0 and abs(position[0] - xa) < 0.5 and xa < 8.0:
                id_a = track.track_id
            elif t_b >= 0.3 and np.linalg.norm(position - [8.0 - 1.2 * t_b, 0.9]) < 0.5:
                ids_b.add(track.track_id)
    return id_a, ids_b


def test_a_track_that_walked_out_of_range_is_not_handed_to_the_next_person():
    """Behind a nearer person a lost track may coast (occlusion), but not once its prediction
    lies beyond the range: there it walked out, and coasting let it catch the next entrant."""
    beyond = lambda xy: np.hypot(xy[:, 0], xy[:, 1]) > 7.5      # noqa: E731
    id_a, ids_b = _edge_handover(beyond)
    assert id_a is not None and ids_b and id_a not in ids_b
    id_a, ids_b = _edge_handover(None)
    assert id_a in ids_b                             # the swap the rule prevents


def test_a_slow_walker_under_a_high_mast_keeps_one_track():
    """A 3.5 m mast's blind cone is ~4.7 m in radius for the ±22.5° sensors: a walker at
    0.9 m/s is unseen for ~6 s under it. The default blind coast covers that (4 s did not)."""
    blind = lambda xy: np.hypot(xy[:, 0], xy[:, 1]) < 3.0      # noqa: E731

    def ids(config):
        tracker, seen_ids = MultiObjectTracker(config, blind=blind), set()
        for frame in range(160):
            t, x = frame * 0.1, -6.0 + 0.9 * frame * 0.1
            seen, _ = tracker.step(t, np.zeros((0, 2)) if abs(x) < 2.7 else np.array([[x, 0.5]]))
            seen_ids |= {track.track_id for track in seen}
        return seen_ids

    assert len(ids(TrackerConfig())) == 1
    assert len(ids(TrackerConfig(blind_max_coast_s=4.0))) == 2


def _side_by_side_swapped(config, seed):
    """Two walkers of 1.60 and 1.82 m close to 0.2 m apart for 2 s, then part (detections
    ±8 cm, heights ±4 cm, in random order). True if a track ends on the other walker."""
    rng = np.random.default_rng(seed)
    tracker, first, last = MultiObjectTracker(config), {}, {}
    for k in range(70):
        t = k * 0.1
        half = max(0.1, 0.6 - 0.6 * min(1.0, t / 2.0) + 0.6 * max(0.0, t - 4.0) / 2.0)
        a, b = np.array([-3 + 1.2 * t, half]), np.array([-3 + 1.2 * t, -half])
        order = rng.permutation(2)
        detections = (np.vstack([a, b]) + rng.normal(0, 0.08, (2, 2)))[order]
        heights = (np.array([1.60, 1.82]) + rng.normal(0, 0.04, 2))[order]
        seen, _ = tracker.step(t, detections, heights=heights)
        for track in seen:
            who = int(np.linalg.norm(track.filter.position - a) > np.linalg.norm(track.filter.position - b))
            if t < 1.0:
                first.setdefault(track.track_id, who)
            elif t > 6.0:
                last[track.track_id] = who
    return set(last) != set(first) or any(first[i] != who for i, who in last.items())


def test_heights_keep_two_close_walkers_apart():
    """Side by side, distance alone is a coin toss; the track's own height decides."""
    with_heights = sum(_side_by_side_swapped(TrackerConfig(), seed) for seed in range(20))
    distance_only = sum(_side_by_side_swapped(TrackerConfig(height_weight=0.0), seed) for seed in range(20))
    assert with_heights <= 1 and distance_only >= 5, (with_heights, distance_only)


def _edge_entrant_ids(config):
    """Walker A leaves the range (8 m); walker B enters at the edge 0.6 m beside A's exit
    point in the very next frame, walking in. Returns (A's id, B's ids)."""
    outside = lambda xy: np.hypot(xy[:, 0], xy[:, 1]) > 7.5      # noqa: E731
    tracker = MultiObjectTracker(config, outside=outside)
    id_a, ids_b = None, set()
    for k in range(40):
        t = k * 0.1
        xa, t_b = 6.0 + 1.2 * t, t - 1.7                      # A's last detection at t = 1.6 s
        observed = [[xa, 0.0]] if xa < 8.0 else []
        if t_b >= 0:
            observed.append([8.0 - 1.2 * t_b, 0.6])
        seen, _ = tracker.step(t, np.array(observed).reshape(-1, 2))
        for track in seen:
            if t_b < 0 and abs(track.filter.position[0] - xa) < 0.3:
                id_a = track.track_id
            elif t_b >= 0.5 and np.linalg.norm(track.filter.position - [8.0 - 1.2 * t_b, 0.6]) < 0.5:
                ids_b.add(track.track_id)
    return id_a, ids_b


def test_a_track_at_the_range_edge_does_not_take_the_next_entrant():
    """At the range edge (the exit margin) the gate is tight (``edge_gate_m``): the walker who
    left is not continued on someone entering beside the exit point."""
    id_a, ids_b = _edge_entrant_ids(TrackerConfig())
    assert id_a is not None and ids_b and id_a not in ids_b
    id_a, ids_b = _edge_entrant_ids(TrackerConfig(edge_gate_m=0.0))
    assert id_a in ids_b                             # the swap the tight gate prevents


def _cone_crossing_ids(config, speed, cone_m, seen_after_m, entry_m=None):
    """A walker along y = 0.4 through a blind cone of radius ``cone_m`` (the tracker's model),
    detected before ``-entry_m`` (default: the cone) and again past ``seen_after_m``.
    Returns the confirmed track ids seen."""
    blind = lambda xy: np.hypot(xy[:, 0], xy[:, 1]) < cone_m      # noqa: E731
    tracker, seen_ids = MultiObjectTracker(config, blind=blind), set()
    entry_m = cone_m if entry_m is None else entry_m
    x0 = -entry_m - 2.0
    for frame in range(int((entry_m + seen_after_m + 4.0) / speed / 0.1)):
        t, x = frame * 0.1, x0 + speed * frame * 0.1
        visible = x < -entry_m or x > seen_after_m
        seen, _ = tracker.step(t, np.array([[x, 0.4]]) if visible else np.zeros((0, 2)),
                               heights=np.array([1.7]) if visible else np.zeros(0))
        seen_ids |= {track.track_id for track in seen}
    return seen_ids


def test_a_walker_at_0_75_m_s_under_a_3_5_m_mast_keeps_one_track():
    """The OS1 cone at 3.5 m is ~4.7 m in radius: a walker at 0.75 m/s is unseen for ~12.5 s
    under it, longer than the 7 s coast (tuning cells: 23 such splits in six OS1 3.5 m cells)."""
    assert len(_cone_crossing_ids(TrackerConfig(), 0.75, 4.7, 4.6)) == 1
    assert len(_cone_crossing_ids(TrackerConfig(blind_max_coast_s=7.0), 0.75, 4.7, 4.6)) == 2


def test_a_track_leaving_the_cone_coasts_a_little_longer():
    """Detection resumes ~0.4 m past the modelled cone (head-only returns at its edge are cut
    by the detector): the track is given ``blind_exit_coast_s`` after its prediction leaves."""
    assert len(_cone_crossing_ids(TrackerConfig(), 1.2, 3.0, 3.4)) == 1
    assert len(_cone_crossing_ids(TrackerConfig(blind_exit_coast_s=0.0), 1.2, 3.0, 3.4)) == 2


def _ids_through_dropout(config, neighbour_m=None, outside=None):
    """A walker at 1.2 m/s whose detections drop out for three frames (t = 1.0-1.2 s); with
    ``neighbour_m`` a standing person that far to the side. Returns the walker's track ids."""
    tracker = MultiObjectTracker(config, outside=outside)
    ids = set()
    for k in range(30):
        t = k * 0.1
        walker = np.array([2.0 + 1.2 * t, 0.0])
        observed = [] if 10 <= k <= 12 else [walker]
        if neighbour_m is not None:
            observed.append(np.array([2.0 + 1.2 * 1.1, neighbour_m]))
        seen, _ = tracker.step(t, np.array(observed).reshape(-1, 2))
        ids |= {tr.track_id for tr in seen if np.linalg.norm(tr.filter.position - walker) < 0.5}
    return ids


def test_a_lone_track_survives_a_third_miss_but_not_beside_someone_or_at_the_edge():
    assert len(_ids_through_dropout(TrackerConfig())) == 1
    assert len(_ids_through_dropout(TrackerConfig(lone_max_misses=0))) == 2
    assert len(_ids_through_dropout(TrackerConfig(), neighbour_m=2.0)) == 2          # someone within 3 m
    assert len(_ids_through_dropout(TrackerConfig(), outside=lambda xy: np.ones(len(xy), dtype=bool))) == 2
