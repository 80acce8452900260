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
    tracker = MultiObjectTracker(TrackerConfig(min_hits=3, max_misses=2))
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
