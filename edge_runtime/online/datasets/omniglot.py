"""Omniglot "minimal" background splits, read in place from the two zips.

Images are 105×105 1-bit PNGs, 20 drawers per character; they are box-downsampled to
``size``×``size`` floats in [0, 1] with ink = 1. The two zips share the Greek and Latin
alphabets; each alphabet is read once (from the first zip that has it).
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

ZIPS = ("images_background_small1.zip", "images_background_small2.zip")


@dataclass
class OmniglotImages:
    images: np.ndarray     # (n, size, size) float32, ink = 1
    character: np.ndarray  # (n,) int64 global character id
    alphabet: np.ndarray   # (n,) str alphabet of each image
    names: list[str]       # character id -> "Alphabet/characterNN"


@lru_cache(maxsize=2)
def load_omniglot(root: Path | None = None, size: int = 28) -> OmniglotImages:
    from PIL import Image

    from edge_runtime.data_paths import require_shared_data

    folder = root or require_shared_data("omniglot")
    images, chars, alphabets, names = [], [], [], []
    index: dict[str, int] = {}
    seen_alphabets: set[str] = set()
    for zip_name in ZIPS:
        path = folder / zip_name
        if not path.is_file():
            raise FileNotFoundError(f"Omniglot archive {path} not found")
        with zipfile.ZipFile(path) as zf:
            members = sorted(n for n in zf.namelist() if n.endswith(".png"))
            here = {m.split("/")[1] for m in members}
            for member in members:
                _, alphabet, character, _ = member.split("/")
                if alphabet in seen_alphabets:
                    continue
                key = f"{alphabet}/{character}"
                if key not in index:
                    index[key] = len(names)
                    names.append(key)
                with Image.open(io.BytesIO(zf.read(member))) as im:
                    small = im.convert("L").resize((size, size), Image.BOX)
                images.append(1.0 - np.asarray(small, np.float32) / 255.0)
                chars.append(index[key])
                alphabets.append(alphabet)
            seen_alphabets |= here
    return OmniglotImages(np.stack(images), np.array(chars), np.array(alphabets), names)
