"""KITTI object labels and calibration, so a label (camera frame) can be compared with
detections (LiDAR frame).

A label's location is the bottom centre of the box in *rectified camera* coordinates;
``velo = inv(Tr_velo_to_cam) @ inv(R0_rect) @ cam`` brings it into the LiDAR frame.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class KittiObject:
    kind: str
    height: float
    width: float
    length: float
    bottom_centre_cam: np.ndarray   # (3,) rectified camera frame


def read_labels(path: str | Path) -> list[KittiObject]:
    objects = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 15:
            raise ValueError(f"{path}:{number}: a KITTI label line has 15 fields, found {len(fields)}")
        h, w, l, x, y, z = map(float, fields[8:14])
        objects.append(KittiObject(fields[0], h, w, l, np.array([x, y, z])))
    return objects


def read_calibration(path: str | Path) -> dict[str, np.ndarray]:
    calib = {}
    for line in Path(path).read_text().splitlines():
        if ":" in line:
            key, values = line.split(":", 1)
            calib[key.strip()] = np.array([float(v) for v in values.split()])
    for needed in ("R0_rect", "Tr_velo_to_cam"):
        if needed not in calib:
            raise ValueError(f"{path}: calibration lacks {needed}")
    return calib


def camera_to_velodyne(points_cam: np.ndarray, calib: dict[str, np.ndarray]) -> np.ndarray:
    """Rectified-camera points ``(N, 3)`` → LiDAR frame."""
    rect = calib["R0_rect"].reshape(3, 3)
    velo_to_cam = np.eye(4)
    velo_to_cam[:3, :] = calib["Tr_velo_to_cam"].reshape(3, 4)
    unrectified = np.linalg.solve(rect, np.atleast_2d(points_cam).T)          # (3, N)
    homogeneous = np.vstack([unrectified, np.ones(unrectified.shape[1])])
    return (np.linalg.inv(velo_to_cam) @ homogeneous)[:3].T
