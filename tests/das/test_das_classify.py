"""Car/truck classifier inputs: speed is one of them, and it reads the way physics says."""
from __future__ import annotations

import numpy as np

from edge_runtime.das.classify import FEATURES, load_classifier
from edge_runtime.das.lines import ImageAxes
from edge_runtime.das.vehicles import Detection, line_features


def test_line_features_carry_the_speed():
    axes = ImageAxes(t_start=0.0, out_fs=25.0, x_first=0.0, bin_dx=5.0, x_mid=100.0)
    z = np.random.default_rng(0).random((1500, 41)).astype(np.float32)
    images = [z, z, z]
    for kmh in (-28.0, 95.0):
        feats = line_features(images, axes, np.ones(41, dtype=bool), Detection(30.0, 3.6 / kmh, 1.0))
        assert set(FEATURES) - {"qs_rel"} <= set(feats)
        assert feats["log_speed"] == np.log10(abs(kmh))


def test_same_load_reads_heavier_at_low_speed():
    """Strain *rate* scales with speed: a slow vehicle that shows the same load signal as a
    fast one is heavier (the committed model must have learnt that direction)."""
    model = load_classifier()
    feats = {"qs_snr": 1.0, "vib_low": 0.7, "vib_high": 1.2, "vib_ratio": -0.5, "length_m": 13.0, "qs_rel": 0.1}
    slow = model.probability({**feats, "log_speed": np.log10(35.0)})
    fast = model.probability({**feats, "log_speed": np.log10(100.0)})
    assert slow > fast
