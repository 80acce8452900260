"""Keyword-audio front end in numpy/scipy: frames → power spectrum → log-mel → MFCC.

Runs on the device before the trainable head, so it is vectorised over frames and
keeps its mel filterbank and DCT matrix precomputed. ``fixed_length_mfcc`` resamples
an utterance's MFCC frames to a fixed number of time steps, which makes spoken
digits of 0.15–2.3 s a fixed-size feature vector for a dense head.
"""
from __future__ import annotations

import wave
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.fft import dct, rfft


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Mono 16-bit PCM WAV → (float32 samples in [-1, 1], sample rate); clear error otherwise."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: expected mono 16-bit PCM, got {w.getnchannels()} channel(s), "
                             f"{8 * w.getsampwidth()} bit")
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    return data.astype(np.float32) / 32768.0, rate


@lru_cache(maxsize=8)
def mel_filterbank(n_mels: int, n_fft: int, rate: int, fmin: float = 20.0, fmax: float | None = None) -> np.ndarray:
    """Triangular mel filters, shape (n_mels, n_fft // 2 + 1)."""
    fmax = fmax or rate / 2
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    inv = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = inv(np.linspace(mel(fmin), mel(fmax), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / rate)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (bins[None, :] - lower) / (centre - lower)
    down = (upper - bins[None, :]) / (upper - centre)
    return np.maximum(0.0, np.minimum(up, down)).astype(np.float32)


def log_mel(signal: np.ndarray, rate: int, n_mels: int = 40, frame_s: float = 0.025,
            hop_s: float = 0.010, n_fft: int = 256) -> np.ndarray:
    """Log-mel energies, shape (frames, n_mels); pre-emphasis and a Hann window per frame."""
    frame, hop = int(frame_s * rate), int(hop_s * rate)
    if frame > n_fft:
        raise ValueError(f"frame of {frame} samples does not fit n_fft={n_fft}; raise n_fft")
    x = np.append(signal[:1], signal[1:] - 0.97 * signal[:-1])
    if len(x) < frame:
        x = np.pad(x, (0, frame - len(x)))
    n_frames = 1 + (len(x) - frame) // hop
    frames = np.lib.stride_tricks.sliding_window_view(x, frame)[::hop][:n_frames] * np.hanning(frame)
    power = np.abs(rfft(frames, n=n_fft, axis=1)) ** 2 / n_fft
    return np.log(power @ mel_filterbank(n_mels, n_fft, rate).T + 1e-10).astype(np.float32)


def mfcc(signal: np.ndarray, rate: int, n_mfcc: int = 13, **kwargs) -> np.ndarray:
    """MFCCs, shape (frames, n_mfcc): DCT-II of the log-mel energies."""
    return dct(log_mel(signal, rate, **kwargs), type=2, axis=1, norm="ortho")[:, :n_mfcc].astype(np.float32)


def resample_frames(frames: np.ndarray, n_frames: int) -> np.ndarray:
    """(frames, bins) linearly resampled along time to ``n_frames`` rows, flattened row-major."""
    src = np.linspace(0.0, 1.0, len(frames))
    dst = np.linspace(0.0, 1.0, n_frames)
    resampled = np.stack([np.interp(dst, src, frames[:, j]) for j in range(frames.shape[1])], axis=1)
    return resampled.reshape(-1).astype(np.float32)


def fixed_length_mfcc(signal: np.ndarray, rate: int, n_frames: int = 16, n_mfcc: int = 13) -> np.ndarray:
    """MFCC frames linearly resampled to ``n_frames`` time steps, flattened (n_frames * n_mfcc,)."""
    return resample_frames(mfcc(signal, rate, n_mfcc=n_mfcc), n_frames)


def fixed_length_log_mel(signal: np.ndarray, rate: int, n_frames: int = 32, n_mels: int = 20) -> np.ndarray:
    """Log-mel frames resampled to ``n_frames`` time steps, flattened (n_frames * n_mels,): a
    (time, mel) image for a small CNN."""
    return resample_frames(log_mel(signal, rate, n_mels=n_mels), n_frames)
