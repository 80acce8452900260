"""Keyword-audio front end and the shared-data readers (FSDD, Omniglot zips)."""
from __future__ import annotations

import wave

import numpy as np
import pytest

from edge_runtime.online.audio import fixed_length_mfcc, log_mel, mel_filterbank, read_wav


def _write_wav(path, samples: np.ndarray, rate: int, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def test_tone_energy_lands_in_the_right_mel_band(tmp_path):
    rate = 8000
    t = np.arange(rate // 2) / rate
    _write_wav(tmp_path / "tone.wav", 0.5 * np.sin(2 * np.pi * 1000 * t), rate)
    signal, got_rate = read_wav(tmp_path / "tone.wav")
    assert got_rate == rate and signal.shape == (4000,)
    spec = log_mel(signal, rate)
    assert spec.shape == (1 + (4000 - 200) // 80, 40)
    bank = mel_filterbank(40, 256, rate)
    bin_1k = int(round(1000 / (rate / 256)))
    assert spec.mean(axis=0).argmax() == bank[:, bin_1k].argmax()
    assert fixed_length_mfcc(signal, rate).shape == (16 * 13,)


def test_wav_reader_rejects_stereo(tmp_path):
    _write_wav(tmp_path / "st.wav", np.zeros(200), 8000, channels=2)
    with pytest.raises(ValueError, match="mono 16-bit"):
        read_wav(tmp_path / "st.wav")


def test_fsdd_reader_speakers_and_digits(shared_data):
    from edge_runtime.online.datasets.fsdd import load_fsdd

    feats = load_fsdd(shared_data / "fsdd", max_take=1)
    assert feats.x.shape == (60, 208) and np.isfinite(feats.x).all()
    assert sorted(set(feats.speaker.tolist())) == ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
    assert sorted(set(feats.digit.tolist())) == list(range(10))


def test_omniglot_zips_read_in_place_with_held_out_characters(shared_data):
    from edge_runtime.online.datasets.omniglot import load_omniglot
    from edge_runtime.online.experiments.fewshot import held_out_characters

    data = load_omniglot(shared_data / "omniglot")
    assert data.images.shape == (4840, 28, 28) and len(data.names) == 242  # Greek/Latin read once
    assert 0.0 <= data.images.min() and data.images.max() <= 1.0
    held = held_out_characters(data.names, 0.25)
    assert 55 <= len(held) <= 65
    alphabets = {data.names[i].split("/")[0] for i in held}
    assert len(alphabets) == 8  # every alphabet keeps some characters unseen
