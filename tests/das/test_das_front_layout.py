"""The front end's bins x time layout gives the rows of the time x bins one, bit for bit.

``EnvelopeStream`` filters with time as the last (contiguous) axis since issue 17's ninth
session; before, every ``sosfilt`` call copied a time x bins array into that order (a
transpose per band and one of all three float64 features for the envelope) and the
Hilbert stage concatenated the three features per chunk for its delay. ``_TimeByBins``
below is that earlier front end, kept as the reference.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import signal

from edge_runtime.das.params import DetectionParams
from edge_runtime.das.preprocess import (EnvelopeStream, _band_sos, bin_channels, block_mean,
                                         remove_common_mode)


class _TimeByBins:
    """The front end as it was (rows x features x bins throughout)."""

    def __init__(self, fs: float, dx: float, n_channels: int, params: DetectionParams):
        new = EnvelopeStream(fs, dx, n_channels, params)        # geometry and filters only
        self.g = g = new.geometry
        fs1 = fs / g.block
        self.band_sos = [None if s is None else s.astype(np.float32) for s in
                         (_band_sos(params.quasi_static_hz, fs1), _band_sos(params.vib_low_hz, fs1),
                          _band_sos(params.vib_high_hz, fs1))]
        self.env_sos = new.env_sos
        self.band_zi = [None if s is None else np.zeros((s.shape[0], 2, g.n_bins), np.float32)
                        for s in self.band_sos]
        self.leak = new.leak
        self.leak_zi = np.zeros((1, g.n_bins))
        self.env_zi = np.zeros((self.env_sos.shape[0], 2, 3 * g.n_bins))
        self.quad = new.quadrature
        if self.quad is not None:
            self.history = np.zeros((self.quad.taps.size - 1, g.n_bins), np.float32)
            self.delayed = np.zeros((self.quad.delay, 3, g.n_bins))
        self.rest = np.zeros((0, n_channels), np.float32)
        self.phase = 0

    def push(self, chunk: np.ndarray) -> np.ndarray:
        g = self.g
        data = chunk if self.rest.shape[0] == 0 else np.concatenate([self.rest, chunk])
        usable = data.shape[0] - data.shape[0] % g.block
        self.rest = np.array(data[usable:], dtype=np.float32)
        if usable == 0:
            return np.zeros((0, 3, g.n_bins), np.float32)
        binned = bin_channels(block_mean(data[:usable], g.block), g.bin_size).astype(np.float32)
        power = np.empty((binned.shape[0], 3, g.n_bins))
        for k, sos in enumerate(self.band_sos):
            if sos is None:
                power[:, k, :] = 0.0
                continue
            source = binned
            if k == 0 and self.leak is not None:
                source, self.leak_zi = signal.lfilter([1.0 - self.leak], [1.0, -self.leak], binned, axis=0,
                                                      zi=self.leak_zi)
            band, self.band_zi[k] = signal.sosfilt(sos, source, axis=0, zi=self.band_zi[k])
            if k == 0:
                band = remove_common_mode(band)
            if k == 0 and self.quad is not None:
                power[:, k, :] = band
            else:
                np.square(band, out=power[:, k, :], dtype=np.float64)
        if self.quad is not None:
            n = power.shape[0]
            band = np.concatenate([self.history, power[:, 0, :].astype(np.float32)])
            self.history = band[band.shape[0] - self.history.shape[0]:].copy()
            quad = signal.oaconvolve(band, self.quad.taps[:, None], mode="valid", axes=0)
            delayed = np.concatenate([self.delayed, power])
            self.delayed = delayed[delayed.shape[0] - self.quad.delay:].copy()
            power = delayed[:n]
            power[:, 0, :] = power[:, 0, :] ** 2 + quad.astype(np.float64) ** 2
        flat = power.reshape(power.shape[0], -1)
        smooth, self.env_zi = signal.sosfilt(self.env_sos, flat, axis=0, zi=self.env_zi)
        first = (-self.phase) % g.decimate
        self.phase = (self.phase + flat.shape[0]) % g.decimate
        kept = smooth[first::g.decimate].reshape(-1, 3, g.n_bins)
        return np.ascontiguousarray(np.sqrt(np.maximum(kept, 0.0)), dtype=np.float32)


@pytest.mark.parametrize("fs, dx, n_ch, overrides", [
    (500.0, 1.0, 137, {}),                                      # 5-channel bins, all three bands
    (200.0, 3.7, 90, {}),                                       # one channel per bin
    (400.0, 1.3, 260, {"integrate_strain": True}),              # leaky integrator (float64 band)
    (25.0, 2.0, 40, {}),                                        # vib_high above Nyquist: no band
    (300.0, 2.0, 64, {"quadrature_envelope": False}),
])
def test_bins_by_time_rows_equal_time_by_bins_rows(fs, dx, n_ch, overrides):
    params = replace(DetectionParams(), **overrides)
    rng = np.random.default_rng(7)
    n = int(fs * 23.7)
    data = rng.standard_normal((n, n_ch)).astype(np.float32)
    data += (3.0 * rng.standard_normal((n, 1))).astype(np.float32)          # common mode
    data[:, n_ch // 3] *= 40.0                                             # a loud channel
    old, new = _TimeByBins(fs, dx, n_ch, params), EnvelopeStream(fs, dx, n_ch, params)
    cuts = [0, 3, int(fs * 0.4), int(fs * 1.1), int(fs * 11.0), int(fs * 11.0) + 1, n]   # chunks
    a = np.concatenate([old.push(data[s:e]) for s, e in zip(cuts[:-1], cuts[1:])])   # shorter than the delay too
    b = np.concatenate([new.push(data[s:e]) for s, e in zip(cuts[:-1], cuts[1:])])
    assert a.shape == b.shape and a.shape[0] > 100
    assert a.dtype == b.dtype == np.float32
    assert a.tobytes() == b.tobytes()
