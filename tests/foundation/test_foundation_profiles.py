"""Board files load with the right figures; bad files fail naming the file and the field."""
from __future__ import annotations

import pytest
import yaml

from device_profiles import ProfileError, list_profiles, load_profile, load_profile_file
from device_profiles.loader import BOARDS_DIR
from device_profiles.schema import parse_quantity

REQUIRED_IDS = {
    "raspberry-pi-3b-plus", "raspberry-pi-4b-2gb", "raspberry-pi-4b-4gb", "raspberry-pi-4b-8gb",
    "raspberry-pi-5-8gb", "jetson-nano", "jetson-orin-nano", "arduino-nano-33-ble-sense",
    "esp32-s3", "generic-x86-64"}


def test_catalogue_has_every_required_board():
    assert REQUIRED_IDS <= set(list_profiles())


@pytest.mark.parametrize("profile_id", sorted(REQUIRED_IDS))
def test_every_board_is_consistent(profile_id):
    p = load_profile(profile_id)
    assert p.id == profile_id
    assert p.cores >= 1 and p.cpu_freq_hz > 1e6 and p.peak_gflops > 0
    assert p.sources, "every board file cites where its figures come from"
    if p.is_mcu:
        assert p.backends.tflm and not p.backends.litert and not p.backends.onnxruntime_providers
        assert p.ram_bytes <= 1 << 20
    else:
        assert p.backends.litert and "CPUExecutionProvider" in p.backends.onnxruntime_providers
        assert p.ram_bytes >= 1 << 30
    assert p.to_dict()["ram_bytes"] == p.ram_bytes


def test_known_figures_are_parsed_with_units():
    nano = load_profile("arduino-nano-33-ble-sense")
    assert (nano.ram_bytes, nano.storage_bytes, nano.cpu_freq_hz) == (256 * 1024, 1 << 20, 64e6)
    assert nano.arch == "armv7e-m" and "Cortex-M4" in nano.cpu_model
    assert load_profile("raspberry-pi-4b-8gb").ram_bytes == 8 << 30
    assert load_profile("raspberry-pi-4b-2gb").ram_bytes == 2 << 30
    assert load_profile("jetson-orin-nano").accelerators[0].tops == pytest.approx(40)
    assert load_profile("jetson-nano").backends.onnxruntime_providers[0] == "TensorrtExecutionProvider"
    assert load_profile("esp32-s3").external_ram_bytes == 8 << 20


@pytest.mark.parametrize("text,kind,expected", [
    ("4 GiB", "bytes", 4 * 2**30), ("256 KiB", "bytes", 262144), ("1.5 GHz", "hertz", 1.5e9),
    ("5 W", "watts", 5.0), ("30 mW", "watts", 0.03), ("40 TOPS", "ops_per_s", 40e12)])
def test_parse_quantity(text, kind, expected):
    assert parse_quantity(text, kind) == pytest.approx(expected)


def _write_board(tmp_path, **changes):
    data = yaml.safe_load((BOARDS_DIR / "raspberry-pi-4b-4gb.yaml").read_text())
    data.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del data[key]
    path = tmp_path / "raspberry-pi-4b-4gb.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("changes,field,words", [
    ({"ram": "4 GHz"}, "ram", "not a unit of bytes"),
    ({"ram": 4096}, "ram", "expected a quantity with a unit"),
    ({"cpu_freq": "fast"}, "cpu_freq", "cannot read"),
    ({"colour": "green"}, "colour", "unknown key"),
    ({"cores": None}, "cores", "missing required field"),
    ({"device_class": "phone"}, "device_class", "expected one of"),
    ({"backends": {"litert": True, "tflm": False, "onnxruntime_providers": ["GPUProvider"]}},
     "backends.onnxruntime_providers", "unknown provider"),
    ({"backends": {"litert": True, "tflm": False, "onnxruntime_providers": [], "npu": True}},
     "backends.npu", "unknown key"),
    ({"accelerators": [{"kind": "gpu", "name": "x", "peak": "3 GHz"}]}, "accelerators[0].peak",
     "not a unit of ops_per_s"),
])
def test_bad_board_file_names_file_and_field(tmp_path, changes, field, words):
    path = _write_board(tmp_path, **changes)
    with pytest.raises(ProfileError) as info:
        load_profile_file(path)
    message = str(info.value)
    assert str(path) in message and f"'{field}'" in message and words in message


def test_file_name_must_match_id(tmp_path):
    path = _write_board(tmp_path)
    path.rename(tmp_path / "other.yaml")
    with pytest.raises(ProfileError, match="must equal the file name"):
        load_profile_file(tmp_path / "other.yaml")


def test_unknown_profile_lists_known_ones():
    with pytest.raises(KeyError, match="raspberry-pi-5-8gb"):
        load_profile("raspberry-pi-9")
