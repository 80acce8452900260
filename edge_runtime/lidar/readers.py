"""Point-cloud readers: one door for every file format a LiDAR frame arrives in.

Everything downstream works on an ``(N, 3)`` float32 array of x, y, z in metres in the
sensor frame (x forward, y left, z up); intensity, when present, is dropped here because
the pipeline never uses it (colourless LiDARs, as in the paper).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

SUPPORTED_SUFFIXES = (".bin", ".npy", ".pcd", ".ply")


def read_points(path: str | Path) -> np.ndarray:
    """Read one frame as an ``(N, 3)`` float32 array; raise ``ValueError`` on bad input."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"point-cloud file {path} not found")
    suffix = path.suffix.lower()
    if suffix == ".bin":
        points = _read_kitti_bin(path)
    elif suffix == ".npy":
        points = _read_npy(path)
    elif suffix in (".pcd", ".ply"):
        points = _read_open3d(path)
    else:
        raise ValueError(f"{path}: unsupported point-cloud format {suffix!r}; "
                         f"use one of {', '.join(SUPPORTED_SUFFIXES)}")
    finite = np.isfinite(points).all(axis=1)
    return np.ascontiguousarray(points[finite], dtype=np.float32)


def _read_kitti_bin(path: Path) -> np.ndarray:
    """KITTI Velodyne: raw little-endian float32, 4 values (x, y, z, reflectance) per point."""
    raw = np.fromfile(path, dtype="<f4")
    if raw.size % 4:
        raise ValueError(f"{path}: {raw.size} float32 values is not a multiple of 4; "
                         "a KITTI .bin frame stores x, y, z, reflectance per point")
    return raw.reshape(-1, 4)[:, :3]


def _read_npy(path: Path) -> np.ndarray:
    array = np.load(path, allow_pickle=False)
    if array.ndim != 2 or array.shape[1] not in (3, 4):
        raise ValueError(f"{path}: expected an N×3 or N×4 array of points, got shape {array.shape}")
    return array[:, :3].astype(np.float32, copy=False)


def _read_open3d(path: Path) -> np.ndarray:
    import open3d as o3d

    cloud = o3d.io.read_point_cloud(str(path))
    points = np.asarray(cloud.points, dtype=np.float32)
    if points.size == 0:
        raise ValueError(f"{path}: no points could be read (empty or not a point cloud)")
    return points


def write_points(path: str | Path, points: np.ndarray) -> None:
    """Write ``(N, 3)`` points in the format named by the suffix (.npy, .bin, .pcd, .ply)."""
    path = Path(path)
    points = np.asarray(points, dtype=np.float32)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        np.save(path, points)
    elif suffix == ".bin":
        padded = np.zeros((len(points), 4), dtype="<f4")
        padded[:, :3] = points[:, :3]
        padded.tofile(path)
    elif suffix in (".pcd", ".ply"):
        import open3d as o3d

        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(points[:, :3].astype(np.float64)))
        o3d.io.write_point_cloud(str(path), cloud)
    else:
        raise ValueError(f"{path}: cannot write {suffix!r}; use one of {', '.join(SUPPORTED_SUFFIXES)}")
