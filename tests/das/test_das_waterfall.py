"""The dashboard's waterfall thumbnail: small, normalised, and showing where vehicles are."""
from __future__ import annotations

import numpy as np

from edge_runtime.das.simulate import SceneConfig, make_scene
from edge_runtime.das.waterfall import WaterfallThumbnail


def test_thumbnail_is_small_and_bright_where_a_vehicle_passes():
    scene = make_scene(SceneConfig(n_channels=200, fs=250.0, duration_s=60.0, seed=3, rate_per_min=2.0,
                                   noise=0.2, coherent_noise=0.0))
    thumb = WaterfallThumbnail(scene.config.fs, scene.config.n_channels)
    for chunk in scene.chunks(7.3):                     # chunks that do not divide a row
        thumb.push(chunk.data)
    vehicle = scene.vehicles[0]
    events = [{"t_entry_s": vehicle.t_center_s - 5, "t_exit_s": vehicle.t_center_s + 5,
               "speed_kmh": vehicle.speed_kmh * vehicle.direction, "class": "car"}]
    record = thumb.record(events)
    image = np.array(record["image"])
    assert image.shape == (120, 48) and 0 <= image.min() and image.max() <= 1
    assert record["duration_s"] == 60.0 and len(record["lines"]) == 1
    row = int((vehicle.t_center_s - record["t0_s"]) / record["duration_s"] * 120)
    middle = image[max(0, row - 2):row + 3, 18:30].mean()
    assert middle > 2 * np.median(image), "the vehicle's passage is not brighter than the background"
