import numpy as np
import pytest

from edge_runtime.lidar.readers import read_points, write_points


@pytest.mark.parametrize("suffix", [".npy", ".bin", ".pcd", ".ply"])
def test_round_trip_every_format(tmp_path, suffix):
    points = np.random.default_rng(0).normal(size=(500, 3)).astype(np.float32)
    path = tmp_path / f"frame{suffix}"
    write_points(path, points)
    back = read_points(path)
    assert back.shape == (500, 3) and back.dtype == np.float32
    np.testing.assert_allclose(back, points, atol=1e-5)


def test_npy_with_intensity_column_keeps_xyz(tmp_path):
    data = np.arange(40, dtype=np.float32).reshape(10, 4)
    np.save(tmp_path / "f.npy", data)
    np.testing.assert_array_equal(read_points(tmp_path / "f.npy"), data[:, :3])


def test_bad_inputs_say_what_is_wrong(tmp_path):
    np.save(tmp_path / "bad.npy", np.zeros((5, 2)))
    with pytest.raises(ValueError, match="N×3 or N×4"):
        read_points(tmp_path / "bad.npy")
    np.arange(7, dtype=np.float32).tofile(tmp_path / "bad.bin")
    with pytest.raises(ValueError, match="multiple of 4"):
        read_points(tmp_path / "bad.bin")
    (tmp_path / "x.xyz").write_text("1 2 3")
    with pytest.raises(ValueError, match="unsupported"):
        read_points(tmp_path / "x.xyz")
    with pytest.raises(FileNotFoundError):
        read_points(tmp_path / "missing.npy")
