"""Stateful front end: raw strain-rate chunks in, small envelope images out.

This is the only stage that touches full-rate data, so it is built to be cheap and
chunk-invariant:

1. ``block_mean``: average blocks of ``q`` samples (~100 Hz out). A boxcar is an FIR
   anti-alias filter with nulls at multiples of the new rate; leftover samples wait
   for the next chunk, so chunking never changes the result.
2. ``bin_channels``: average channels into bins of ``bin_m`` metres (linear, so it
   commutes with the temporal filters that follow and saves their cost).
3. Three IIR band-passes with their ``zi`` state carried across chunks: the
   quasi-static band (passing loads) and two road-vibration bands (classifier features).
   The quasi-static path is first integrated (leaky, ``leak_hz``) from strain rate to
   strain: a passing axle's strain *rate* is a derivative with two lobes of opposite
   sign, whose envelope has two humps that look like two vehicles a second apart when
   the cable is deep or the vehicle slow; its strain has one hump.
4. ``remove_common_mode``: subtract the median over bins at each instant (coherent
   laser/phase noise hits every channel at once; a vehicle hits only a few bins).
5. Square, low-pass (state carried), keep every ``r``-th sample (decimation phase
   carried), square-root: amplitude envelopes at ``out_fs`` Hz.

Feeding the same samples in any chunking gives the same rows (bit for bit without the
quadrature envelope; to float rounding with it, whose Hilbert FIR runs by FFT).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from edge_runtime.das.median import median
from edge_runtime.das.params import DetectionParams

FEATURES = ("quasi_static", "vib_low", "vib_high")


@dataclass(frozen=True)
class Geometry:
    """Where the envelope image's rows and columns lie in time and space."""

    fs_in: float
    block: int              # raw samples per block-mean
    decimate: int           # block-mean samples per output row
    out_fs: float
    bin_size: int           # channels per bin
    bin_starts: np.ndarray  # first channel of each bin
    bin_counts: np.ndarray
    dx: float

    @property
    def n_bins(self) -> int:
        return int(self.bin_starts.size)

    @property
    def bin_centres_m(self) -> np.ndarray:
        """Distance of each bin centre from channel 0 (m)."""
        return (self.bin_starts + (self.bin_counts - 1) / 2.0) * self.dx

    @property
    def raw_samples_per_row(self) -> int:
        return self.block * self.decimate


def make_geometry(fs: float, dx: float, n_channels: int, params: DetectionParams) -> Geometry:
    block = max(1, int(round(fs * params.block_s)))
    fs1 = fs / block
    decimate = max(1, int(round(fs1 / params.out_fs)))
    bin_size = max(1, int(round(params.bin_m / dx)))
    starts = np.arange(0, n_channels, bin_size)
    counts = np.minimum(starts + bin_size, n_channels) - starts
    return Geometry(fs, block, decimate, fs1 / decimate, bin_size, starts, counts, dx)


def block_mean(data: np.ndarray, block: int) -> np.ndarray:
    """Mean of consecutive ``block`` rows (``len(data)`` must be a multiple of it).

    Summed as ``block`` strided row slices: contiguous, float32, one pass over memory,
    which is what keeps the full-rate stage at a few ns per sample.
    """
    out = np.array(data[0::block], dtype=np.float32)
    for k in range(1, block):
        out += data[k::block]
    if block > 1:
        out *= np.float32(1.0 / block)
    return out


def bin_channels(data: np.ndarray, bin_size: int) -> np.ndarray:
    """Mean over consecutive channel bins of ``bin_size`` (the last bin may be shorter)."""
    if bin_size == 1:
        return data
    n_channels = data.shape[1]
    full = n_channels - n_channels % bin_size
    out = data[:, 0:full:bin_size].copy()
    for k in range(1, bin_size):
        out += data[:, k:full:bin_size]
    out *= np.float32(1.0 / bin_size)
    if full < n_channels:
        out = np.concatenate([out, data[:, full:].mean(axis=1, keepdims=True)], axis=1)
    return out


COMMON_MODE_BINS = 128      # bins the common-mode median is taken over (evenly spaced)


def remove_common_mode(data: np.ndarray, bins_axis: int = 1) -> np.ndarray:
    """Subtract, at each instant, the median over the bins (coherent noise).

    The common mode is the same in every bin, so up to ``COMMON_MODE_BINS`` evenly spaced
    bins estimate it (error ~0.1 of one bin's noise); the median over all of them was the
    front end's costliest step on long arrays (~0.1 s per 90 s at 500 bins). ``data`` is
    time x bins (``bins_axis=1``) or bins x time (``bins_axis=0``); the same values either way.
    """
    if bins_axis == 0:
        stride = max(1, data.shape[0] // COMMON_MODE_BINS)
        return data - median(data[::stride], axis=0)[None, :]
    stride = max(1, data.shape[1] // COMMON_MODE_BINS)
    return data - median(data[:, ::stride], axis=1)[:, None]


def _band_sos(band: tuple[float, float], fs: float) -> np.ndarray | None:
    hi = min(band[1], 0.45 * fs)
    if band[0] >= hi:
        return None         # the band lies above this recording's Nyquist rate
    return signal.butter(2, [band[0], hi], btype="bandpass", fs=fs, output="sos")


class QuadraturePower:
    """Adds the Hilbert transform's power to the quasi-static band's: ``y^2 + H(y)^2``.

    A passing axle's strain rate is a derivative-like wavelet with lobes of opposite
    sign; its squared value has two or three humps per axle, which a detector reads as
    several vehicles a second apart whenever the cable is deep or the vehicle slow. The
    analytic signal's magnitude is one hump per axle group whatever the wavelet's shape.
    A linear-phase FIR Hilbert transformer (``remez``, ~4 s long) keeps it streaming; its
    delay of (N-1)/2 samples is applied to every feature so they stay aligned.
    """

    def __init__(self, fs: float, n_bins: int, low_hz: float):
        taps = int(round(1.0 / low_hz * fs)) | 1
        # float32: the FFT convolution is ~3x faster than in float64 and the band's values
        # are far above float32's resolution
        self.taps = signal.remez(taps, [low_hz, 0.5 * fs - low_hz], [1.0], type="hilbert",
                                 fs=fs).astype(np.float32)
        self.delay = (taps - 1) // 2
        # the FIR needs taps - 1 rows of the band's past; the other features only wait for
        # its delay. The band is kept in float32, which is what it comes out of the
        # band-pass as (exact), and only band 0 is copied per chunk, not all three
        # features in float64 (front end of a 524-bin, 100-Hz, 90-s scene: 0.33 -> 0.29 CPU s)
        self._band_history = np.zeros((n_bins, taps - 1), dtype=np.float32)
        self._delayed = np.zeros((3, n_bins, self.delay))

    def frame(self, n: int) -> np.ndarray:
        """Float64 3 x bins x (delay + n): the delayed past, then room for ``n`` new rows.

        The caller writes the new features after the past, so the delay needs no
        concatenation of all three features per chunk."""
        buf = np.empty((3, self._delayed.shape[1], self.delay + n))
        buf[:, :, :self.delay] = self._delayed
        return buf

    def push(self, buf: np.ndarray) -> np.ndarray:
        """``buf`` from ``frame`` (time last), feature 0 of the new rows still *signed* (the band)."""
        n = buf.shape[2] - self.delay
        band = np.concatenate([self._band_history, buf[0, :, self.delay:].astype(np.float32)], axis=1)
        self._band_history = band[:, band.shape[1] - self._band_history.shape[1]:].copy()
        quad = signal.oaconvolve(band, self.taps[None, :], mode="valid", axes=1)
        # copied: with a chunk shorter than the delay, the rows handed out overlap them
        self._delayed = buf[:, :, n:].copy()
        out = buf[:, :, :n]
        # y^2 + H(y)^2 in place (the same products and sum as ``a ** 2 + b ** 2``)
        head = out[0]
        np.multiply(head, head, out=head)
        quad64 = quad.astype(np.float64)
        np.multiply(quad64, quad64, out=quad64)
        head += quad64
        return out


class EnvelopeStream:
    """Carries filter and decimation state; ``push(chunk)`` returns new envelope rows.

    Output of ``push``: float32 array ``(rows, 3, n_bins)``, features in ``FEATURES`` order.
    """

    def __init__(self, fs: float, dx: float, n_channels: int, params: DetectionParams):
        self.geometry = g = make_geometry(fs, dx, n_channels, params)
        self.n_channels = n_channels
        fs1 = fs / g.block
        self.band_sos = [_band_sos(params.quasi_static_hz, fs1), _band_sos(params.vib_low_hz, fs1),
                          _band_sos(params.vib_high_hz, fs1)]
        self.env_sos = signal.butter(2, min(params.envelope_hz, 0.45 * fs1), fs=fs1, output="sos")
        # band-passes run in float32 (a quarter faster; the squares and the envelope stay float64)
        self.band_sos = [None if s is None else s.astype(np.float32) for s in self.band_sos]
        # state laid out for filtering along time with time last (bins x time): see ``push``
        self._band_zi = [None if s is None else np.zeros((s.shape[0], g.n_bins, 2), dtype=np.float32)
                         for s in self.band_sos]
        # leaky integrator strain rate -> strain for the quasi-static band (see integrate_strain)
        self.leak = float(np.exp(-2 * np.pi * params.leak_hz / fs1)) if params.integrate_strain else None
        self._leak_zi = np.zeros((g.n_bins, 1))
        self._env_zi = np.zeros((self.env_sos.shape[0], 3 * g.n_bins, 2))
        self.quadrature = (QuadraturePower(fs1, g.n_bins, params.hilbert_low_hz)
                           if params.quadrature_envelope else None)
        self._rest = np.zeros((0, n_channels), dtype=np.float32)
        self._phase = 0             # block-mean samples seen, modulo the decimation factor

    def push(self, chunk: np.ndarray) -> np.ndarray:
        g = self.geometry
        if chunk.ndim != 2 or chunk.shape[1] != self.n_channels:
            raise ValueError(f"chunk has shape {chunk.shape}; expected (time, {self.n_channels})")
        data = chunk if self._rest.shape[0] == 0 else np.concatenate([self._rest, chunk])
        usable = data.shape[0] - data.shape[0] % g.block
        self._rest = np.array(data[usable:], dtype=np.float32)
        if usable == 0:
            return np.zeros((0, 3, g.n_bins), dtype=np.float32)
        binned = bin_channels(block_mean(data[:usable], g.block), g.bin_size).astype(np.float32)
        # bins x time from here on: scipy's IIRs run along the last axis and copy a time x
        # bins array into that order (a transpose per band and a float64 one of all three
        # features for the envelope); transposed once here and back after the decimation,
        # every filter sees the same samples in the same order, so the rows are the same
        # bit for bit
        rows = binned.shape[0]
        across = np.ascontiguousarray(binned.T)
        buf = np.empty((3, g.n_bins, rows)) if self.quadrature is None else self.quadrature.frame(rows)
        power = buf[:, :, buf.shape[2] - rows:]        # the new rows (after the delayed past)
        for k, sos in enumerate(self.band_sos):
            if sos is None:
                power[k] = 0.0
                continue
            source = across
            if k == 0 and self.leak is not None:
                source, self._leak_zi = signal.lfilter([1.0 - self.leak], [1.0, -self.leak], across, axis=1,
                                                       zi=self._leak_zi)
            band, self._band_zi[k] = signal.sosfilt(sos, source, axis=1, zi=self._band_zi[k])
            if k == 0:
                band = remove_common_mode(band, bins_axis=0)
            if k == 0 and self.quadrature is not None:
                power[k] = band                         # still signed: the Hilbert stage squares it
            else:                                       # squared in float64: no underflow
                np.square(band, out=power[k], dtype=np.float64)
        if self.quadrature is not None:
            power = self.quadrature.push(buf)
        flat = power.reshape(-1, rows)
        smooth, self._env_zi = signal.sosfilt(self.env_sos, flat, axis=1, zi=self._env_zi)
        first = (-self._phase) % g.decimate
        self._phase = (self._phase + rows) % g.decimate
        kept = smooth[:, first::g.decimate].reshape(3, g.n_bins, -1)
        return np.ascontiguousarray(np.sqrt(np.maximum(kept, 0.0)).transpose(2, 0, 1), dtype=np.float32)
