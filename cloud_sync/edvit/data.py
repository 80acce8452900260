"""Image data sets for ED-ViT: scikit-learn's 8x8 digits (tests) and MNIST (benchmarks).

Every set comes back as float32 images ``(n, 1, H, W)`` in [0, 1] and int64 labels,
already split into train and test with a fixed seed, so the full ViT, the sub-models and
the fusion MLP all see the same split.

MNIST: ``shared/data/mnist`` holds only the 10,000 *test* images (the training images
are not in the mirror). We split those 10k, stratified by class, into 8,000 for training
and 2,000 for testing (``test_fraction=0.2``, seed 0); the figures we report are on those
2,000 held-out images, so they are not comparable with the usual 60k/10k protocol.
"""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATASETS = ("digits", "mnist")


@dataclass
class ImageSplit:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    @property
    def image_size(self) -> int:
        return int(self.x_train.shape[-1])


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (optionally gzipped) as a uint8 array, with its header checked."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape} ({np.prod(shape)} bytes) but holds {body.size}")
    return body.reshape(shape)


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test indices with every class split in the same proportion."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    ranks = np.empty(len(labels), dtype=np.int64)
    # rank of each sample within its class, in shuffled order
    sorted_idx = order[np.argsort(labels[order], kind="stable")]
    counts = np.bincount(labels)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    ranks[sorted_idx] = np.arange(len(labels)) - starts
    is_test = ranks < np.round(counts[labels] * test_fraction)
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def _make_split(name, images, labels, test_fraction, seed) -> ImageSplit:
    train, test = stratified_split(labels, test_fraction, seed)
    return ImageSplit(name, images[train], labels[train], images[test], labels[test])


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> ImageSplit:
    from sklearn.datasets import load_digits as sk_digits

    bunch = sk_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, None]
    return _make_split("digits", images, bunch.target.astype(np.int64), test_fraction, seed)


def load_mnist(root: Path | None = None, test_fraction: float = 0.2, seed: int = 0,
               limit: int | None = None) -> ImageSplit:
    """The 10k MNIST test images split 80/20 (see module docstring); ``limit`` keeps the first n."""
    if root is None:
        from edge_runtime.data_paths import require_shared_data
        root = require_shared_data("mnist")
    images = read_idx(Path(root) / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(Path(root) / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    if len(images) != len(labels):
        raise ValueError(f"{root}: {len(images)} images but {len(labels)} labels")
    if limit:
        images, labels = images[:limit], labels[:limit]
    images = (images.astype(np.float32) / 255.0)[:, None]
    return _make_split("mnist", images, labels, test_fraction, seed)


def load_dataset(name: str, **kwargs) -> ImageSplit:
    if name == "digits":
        return load_digits(**{k: v for k, v in kwargs.items() if k != "limit"})
    if name == "mnist":
        return load_mnist(**kwargs)
    raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")


def load_image_file(path: Path, image_size: int) -> np.ndarray:
    """One image for ``infer``: ``.npy`` (H, W) or a PNG/JPEG, returned as (1, 1, H, W) in [0, 1].

    Pictures are converted to grey and resized to the model's input; dark-on-light images
    (ink on paper) are inverted, since the training digits are light on dark.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {path} not found")
    if path.suffix == ".npy":
        image = np.load(path).astype(np.float32)
        if image.ndim != 2 and not (image.ndim == 3 and image.shape[0] == 1):
            raise ValueError(f"{path}: expected a 2-D (H, W) array, got shape {image.shape}")
        image = image.reshape(image.shape[-2:])
        if image.max() > 1.0:
            image = image / image.max()
    else:
        import cv2

        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise ValueError(f"{path}: not an image OpenCV can read (use PNG, JPEG or .npy)")
        image = image.astype(np.float32) / 255.0
        if image.mean() > 0.5:
            image = 1.0 - image
    if image.shape != (image_size, image_size):
        import cv2

        image = cv2.resize(image, (image_size, image_size), interpolation=cv2.INTER_AREA)
    return image[None, None].astype(np.float32)
