"""`profile fit`: yes/no with real numbers for an MCU (TFLM arena) and an SBC (measured RSS)."""
from __future__ import annotations

import subprocess
import sys

import yaml

from device_profiles import load_profile, load_profile_file
from device_profiles.fit import check_fit
from device_profiles.loader import BOARDS_DIR

CORTEX_M4 = "arduino-nano-33-ble-sense"


def test_500kb_model_on_cortex_m4(shared_data):
    model = shared_data / "tflite_models" / "ARM_MicroNet_VWW_3.tflite"   # 542,400 bytes
    report = check_fit(model, load_profile(CORTEX_M4))
    assert report.flash_need_bytes == model.stat().st_size > 500_000
    assert report.flash_have_bytes == 1 << 20 and report.ram_have_bytes == 256 << 10
    assert 64 << 10 < report.ram_need_bytes < 256 << 10   # measured TFLM arena
    assert report.fits == (report.flash_fits and report.ram_fits) and report.fits


def test_same_model_does_not_fit_a_smaller_board(shared_data, tmp_path):
    data = yaml.safe_load((BOARDS_DIR / f"{CORTEX_M4}.yaml").read_text())
    data.update(id="tiny-m4", ram="64 KiB", storage="512 KiB")
    (tmp_path / "tiny-m4.yaml").write_text(yaml.safe_dump(data))
    report = check_fit(shared_data / "tflite_models" / "ARM_MicroNet_VWW_3.tflite",
                       load_profile_file(tmp_path / "tiny-m4.yaml"))
    assert not report.fits and not report.flash_fits and not report.ram_fits
    assert report.describe().startswith("NO") and "TOO BIG" in report.describe()


def test_small_model_fits_and_unrunnable_model_says_why(shared_data, tiny_tflite):
    small = check_fit(tiny_tflite, load_profile(CORTEX_M4))
    assert small.fits and small.ram_need_bytes < 8 << 10 and small.flash_need_bytes < 50_000
    hybrid = check_fit(shared_data / "tflite_models" / "Person_Detection.tflite", load_profile(CORTEX_M4))
    assert not hybrid.fits and "Hybrid models are not supported" in hybrid.reason


def test_onnx_on_mcu_is_refused_and_sbc_ram_is_measured(tiny_onnx):
    assert "needs a .tflite" in check_fit(tiny_onnx, load_profile(CORTEX_M4)).reason
    pi = check_fit(tiny_onnx, load_profile("raspberry-pi-3b-plus"))
    assert pi.fits and pi.backend == "onnxruntime"
    assert 5 << 20 < pi.ram_need_bytes < 1 << 30        # a real process: python + onnxruntime + model


def test_cli_fit_exit_status_and_numbers(shared_data):
    model = shared_data / "tflite_models" / "ARM_MicroNet_VWW_3.tflite"
    done = subprocess.run([sys.executable, "-m", "edge_runtime.cli", "profile", "fit", str(model), CORTEX_M4],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("YES")
    assert "542400 B" in done.stdout and "of 256 KiB" in done.stdout
    missing = subprocess.run([sys.executable, "-m", "edge_runtime.cli", "profile", "fit", "nope.tflite", CORTEX_M4],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_measured_ram_is_the_models_process_not_the_callers(tiny_onnx):
    """The probe's peak is its own address space: a caller holding 1.5 GB (a long test run,
    a busy cloud process) must not make a 13 KB model 'not fit' a 1 GB board (ru_maxrss of a
    forked child counts the parent's pages; that failed the suite once)."""
    import numpy as np

    ballast = np.ones(1_500_000_000 // 8)           # touched: 1.5 GB resident in this process
    report = check_fit(tiny_onnx, load_profile("raspberry-pi-3b-plus"))
    assert ballast[-1] == 1.0
    assert report.fits and report.ram_need_bytes < 400 << 20, report
