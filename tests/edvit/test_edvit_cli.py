"""`cloud-sync edvit train|split|place|infer` end to end on digits (1-epoch models), in-process."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cloud_sync.cli import main
from edge_runtime.edvit.plan import load_plan


@pytest.fixture(scope="module")
def cli_plan(tmp_path_factory):
    """A plan made by the CLI: 1-epoch full ViT split in two (1 epoch each); ~10 s."""
    root = tmp_path_factory.mktemp("cli") / "plan"
    assert main(["edvit", "train", "--dataset", "digits", "--out", str(root), "--epochs", "1"]) == 0
    plot = root.parent / "sizes.png"
    assert main(["edvit", "split", str(root), "--n", "2", "--epochs", "1", "--min-steps", "0",
                 "--fusion-epochs", "2", "--plot", str(plot)]) == 0
    return root


def test_train_split_place_infer(cli_plan, tmp_path, capsys):
    assert (cli_plan / "full.onnx").is_file() and (cli_plan / "submodel_1.onnx").is_file()
    assert (cli_plan.parent / "sizes.png").stat().st_size > 5000
    plan = load_plan(cli_plan)
    assert [s["classes"] for s in plan.submodels] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert main(["edvit", "place", str(cli_plan), "--device", "pi-a=raspberry-pi-4b-2gb",
                 "--device", "pi5=raspberry-pi-5-8gb"]) == 0
    out = capsys.readouterr().out
    assert "sub-model 0 -> " in out and '"kind": "edvit"' in out
    plan = load_plan(cli_plan)
    assert set(plan.placement.values()) <= {"pi-a", "pi5"} and len(plan.placement) == 2

    image = tmp_path / "digit.npy"
    np.save(image, np.eye(8, dtype=np.float32))
    assert main(["edvit", "infer", str(image), "--plan", str(cli_plan), "--local", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0 <= answer["class"] <= 9 and answer["partial"] is False and 0 < answer["confidence"] <= 1

    import cv2
    from sklearn.datasets import load_digits

    ink_on_paper = (255 - load_digits().images[0] * 255 / 16).astype(np.uint8)   # a 0, dark on light
    png = tmp_path / "zero.png"
    cv2.imwrite(str(png), cv2.resize(ink_on_paper, (64, 64), interpolation=cv2.INTER_NEAREST))
    assert main(["edvit", "infer", str(png), "--plan", str(cli_plan), "--local"]) == 0
    assert capsys.readouterr().out.startswith("class ")


@pytest.mark.parametrize("argv,message", [
    (["edvit", "split", "{tmp}/nowhere", "--n", "2"], "cloud-sync edvit train"),
    (["edvit", "split", "{plan}", "--n", "11"], "between 1 and 10"),
    (["edvit", "split", "{plan}", "--n", "2", "--keep", "1.5"], "--keep must be in (0, 1]"),
    (["edvit", "place", "{plan}", "--device", "pi-a"], "write ID=PROFILE"),
    (["edvit", "place", "{plan}", "--device", "m4=arduino-nano-33-ble-sense"], "runs ONNX Runtime"),
    (["edvit", "infer", "{tmp}/none.png", "--plan", "{plan}", "--local"], "not found"),
    (["edvit", "export-tflite", "{tmp}/noplan"], "cloud-sync edvit train"),
])
def test_user_errors_are_explained(cli_plan, tmp_path, capsys, argv, message):
    argv = [a.format(tmp=tmp_path, plan=cli_plan) for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_split_table_lists_sizes(cli_plan, capsys):
    from cloud_sync.edvit.cli import size_table

    table = size_table(load_plan(cli_plan).manifest)
    assert table.splitlines()[1].startswith("full") and "sub 1" in table and "fused accuracy" in table


def test_help_teaches_with_examples(capsys):
    with pytest.raises(SystemExit):
        main(["edvit", "--help"])
    out = capsys.readouterr().out
    assert "cloud-sync edvit split plan/ --n 3" in out and "infer" in out


def test_infer_with_a_relative_plan_path(cli_plan, tmp_path, monkeypatch, capsys):
    """`--plan plan/` from the plan's parent folder (the README's form) works like an absolute path."""
    assert main(["edvit", "place", str(cli_plan), "--device", "pi-a=raspberry-pi-4b-2gb",
                 "--device", "pi5=raspberry-pi-5-8gb"]) == 0
    image = tmp_path / "digit.npy"
    np.save(image, np.eye(8, dtype=np.float32))
    monkeypatch.chdir(cli_plan.parent)
    capsys.readouterr()
    assert main(["edvit", "infer", str(image), "--plan", f"{cli_plan.name}/", "--local", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert answer["partial"] is False


def test_train_prints_epochs_and_time_left(tmp_path, capsys):
    assert main(["edvit", "train", "--dataset", "digits", "--out", str(tmp_path / "p"), "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "for 2 epochs" in out and "epoch 2/2" in out and "s left" in out
