"""The background occupancy map: static structure learned, movers stay foreground."""
import numpy as np

from edge_runtime.lidar.background import OccupancyBackground
from edge_runtime.lidar.config import BackgroundConfig


def wall_and_walker(rng, walker_x):
    wall = np.column_stack([rng.uniform(-5, 5, 3000), np.full(3000, 3.0) + rng.normal(0, 0.02, 3000),
                            rng.uniform(0, 2.5, 3000)])
    walker = np.column_stack([walker_x + rng.normal(0, 0.1, 200), rng.normal(0, 0.1, 200), rng.uniform(0, 1.7, 200)])
    return np.vstack([wall, walker]).astype(np.float32)


def test_static_points_become_background_and_a_walker_stays_foreground():
    rng = np.random.default_rng(0)
    model = OccupancyBackground(BackgroundConfig(learn_frames=10))
    for k in range(10):                                   # the walker moves 0.5 m per frame
        assert model.observe(wall_and_walker(rng, -4 + 0.5 * k)) is None
    assert model.ready
    mask = model.observe(wall_and_walker(rng, 3.0))
    assert mask[:3000].mean() < 0.01                      # the wall is background
    assert mask[3000:].mean() > 0.95                      # the walker is foreground
    assert model.status()["background_voxels"] > 0


def test_a_pausing_person_fades_into_background_only_slowly():
    rng = np.random.default_rng(1)
    model = OccupancyBackground(BackgroundConfig(learn_frames=5, update_rate=0.002))
    for k in range(5):
        model.observe(wall_and_walker(rng, 50.0))         # walker out of the way while learning
    masks = [model.observe(wall_and_walker(rng, 2.0)) for _ in range(100)]   # stands still 10 s
    assert masks[-1][3000:].mean() > 0.9, "a person standing 10 s must still be foreground"
