"""The cloud-side ED-ViT steps as plain functions: train the full ViT, split it into a plan.

``cloud-sync edvit train|split`` and ``benchmarks/edvit_bench.py`` both call these, so a
plan folder means the same thing whichever made it (see ``edge_runtime.edvit.plan``).
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from cloud_sync.edvit.data import ImageSplit
from cloud_sync.edvit.export import TFLITE_BATCH, export_onnx, export_tflite, size_report
from cloud_sync.edvit.fusion import train_fusion
from cloud_sync.edvit.split import SplitSettings, SubModel, fusion_blocks, split_model
from cloud_sync.edvit.train import accuracy, fit, predict, random_shift, seed_everything
from cloud_sync.edvit.vit import TinyVit, VitConfig, load_model, save_model
from edge_runtime.edvit.plan import FORMAT, Plan

# Full-ViT shapes per data set: small enough to train on a laptop CPU in minutes.
PRESETS = {
    "digits": VitConfig(image_size=8, patch_size=2, embed_dim=32, head_dim=8,
                        heads=[4, 4], mlp=[64, 64]),
    "mnist": VitConfig(image_size=28, patch_size=7, embed_dim=48, head_dim=8,
                       heads=[6, 6, 6], mlp=[96, 96, 96]),
}
FULL_WEIGHTS = "full.pt"


def train_full(data: ImageSplit, out_dir: str | Path, *, config: VitConfig | None = None,
               epochs: int = 30, lr: float = 4e-3, batch_size: int = 128, augment_shift: int = 0,
               seed: int = 0, progress: bool = True, on_epoch=None) -> Plan:
    """Train the full ViT and start a plan folder with it (``full.pt``, ``full.onnx``).
    ``on_epoch(done, loss)`` is called after each epoch (the CLI prints the time left)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = config or VitConfig(**asdict(PRESETS[data.name]))
    if config.image_size != data.image_size:
        raise ValueError(f"model expects {config.image_size}px images, data set {data.name} has {data.image_size}px")
    config.num_classes = data.num_classes
    seed_everything(seed)
    model = TinyVit(config)
    fit(model, data.x_train, data.y_train, epochs=epochs, lr=lr, batch_size=batch_size,
        augment=random_shift(augment_shift) if augment_shift else None, seed=seed,
        progress=progress, desc="full ViT", on_epoch=on_epoch)
    test_acc = accuracy(predict(model, data.x_test)[1], data.y_test)
    save_model(model, out / FULL_WEIGHTS, dataset=data.name)
    onnx_bytes = export_onnx(model, out / "full.onnx")
    plan = Plan(out, {"format": FORMAT, "dataset": data.name, "image_size": data.image_size,
                      "num_classes": data.num_classes,
                      "full": {"onnx": "full.onnx", "weights": FULL_WEIGHTS, "bytes": onnx_bytes,
                               "accuracy": test_acc, "config": config.to_dict(),
                               **size_report(model)},
                      "submodels": []})
    plan.save()
    return plan


def load_full(plan: Plan) -> TinyVit:
    weights = plan.path(plan.manifest["full"]["weights"])
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} not found: run 'cloud-sync edvit train' first")
    return load_model(weights)[0]


def submodel_entry(plan: Plan, sub: SubModel) -> dict:
    """Export one sub-model next to the manifest and describe it (size vs the full ViT)."""
    name = f"submodel_{sub.index}.onnx"
    onnx_bytes = export_onnx(sub.model, plan.path(name))
    save_model(sub.model, plan.path(f"submodel_{sub.index}.pt"), classes=sub.classes)
    report = size_report(sub.model)
    full = plan.manifest["full"]
    return {"index": sub.index, "classes": sub.classes, "keep_ratio": round(sub.keep_ratio, 4),
            "onnx": name, "feature_dim": sub.model.config.embed_dim, "bytes": onnx_bytes,
            "test_accuracy": sub.test_accuracy, "config": sub.model.config.to_dict(),
            "size_reduction": full["params"] / report["params"],
            "flops_reduction": full["flops"] / report["flops"], **report}


def fused_accuracy(plan: Plan, submodels: list[SubModel], data: ImageSplit) -> float:
    from edge_runtime.edvit.fusion import FusionHead

    head = FusionHead.load(plan.path(plan.manifest["fusion"]["weights"]))
    answer = head.fuse(dict(enumerate(fusion_blocks(submodels, data.x_test))), len(data.x_test))
    return float((answer.classes == data.y_test).mean())


def split_plan(plan: Plan, data: ImageSplit, parts: int, settings: SplitSettings | None = None,
               fusion_epochs: int = 40) -> tuple[Plan, list[SubModel]]:
    """Split the plan's full ViT into ``parts`` sub-models, train the fusion MLP, save all."""
    settings = settings or SplitSettings()
    if data.name != plan.manifest["dataset"]:
        raise ValueError(f"plan {plan.root} was trained on {plan.manifest['dataset']}, not {data.name}")
    full = load_full(plan)
    submodels = split_model(full, data, parts, settings)
    write_submodels(plan, submodels, data, fusion_epochs, settings)
    return plan, submodels


def write_submodels(plan: Plan, submodels: list[SubModel], data: ImageSplit,
                    fusion_epochs: int = 40, settings: SplitSettings | None = None) -> None:
    """Export sub-models, (re)train the fusion MLP on them frozen, and record it all."""
    progress = settings.progress if settings else True
    had_tflite = any("tflite" in entry for entry in plan.submodels)
    for stale in list(plan.root.glob("submodel_*")):
        stale.unlink()
    plan.manifest["submodels"] = [submodel_entry(plan, sub) for sub in submodels]
    head = train_fusion(fusion_blocks(submodels, data.x_train), data.y_train, data.num_classes,
                        epochs=fusion_epochs, progress=progress)
    head.save(plan.path("fusion.npz"))
    plan.manifest["fusion"] = {"weights": "fusion.npz", "inputs": int(sum(head.block_sizes))}
    plan.manifest["fusion"]["accuracy"] = fused_accuracy(plan, submodels, data)
    plan.manifest.pop("placement", None)
    plan.save()
    if had_tflite:   # re-pruned sub-models replace their .tflite too, or devices would run stale ones
        export_plan_tflite(plan, include_full=False, log=print if progress else lambda _: None)


def export_plan_tflite(plan: Plan, include_full: bool = True, log=print) -> dict[str, int]:
    """Export the plan's full ViT and sub-models to TFLite next to their ONNX files.

    Records ``tflite`` (file name) and ``tflite_bytes`` in each manifest entry and the fixed
    batch in ``manifest["tflite_batch"]``; returns file name -> bytes. Needs litert-torch.
    """
    if not plan.submodels:
        raise ValueError(f"plan {plan.root} has no sub-models; run 'cloud-sync edvit split' first")
    models = [(plan.manifest["full"], load_full(plan), "full.tflite")] if include_full else []
    models += [(plan.submodel(sub.index), sub.model, f"submodel_{sub.index}.tflite")
               for sub in load_submodels(plan)]
    written = {}
    for entry, model, name in models:
        entry["tflite"], entry["tflite_bytes"] = name, export_tflite(model, plan.path(name))
        written[name] = entry["tflite_bytes"]
        log(f"{name}: {entry['tflite_bytes']:,} bytes")
    plan.manifest["tflite_batch"] = TFLITE_BATCH
    plan.save()
    return written


def full_logits(plan: Plan, images: np.ndarray) -> np.ndarray:
    return predict(load_full(plan), images)[1]


def load_submodels(plan: Plan) -> list[SubModel]:
    """The plan's sub-models back as torch models (to re-train fusion after re-pruning)."""
    subs = []
    for entry in plan.submodels:
        model, extra = load_model(plan.path(f"submodel_{entry['index']}.pt"))
        subs.append(SubModel(entry["index"], extra["classes"], entry["keep_ratio"], model, None,
                             entry.get("test_accuracy", float("nan"))))
    return subs


def place_plan(plan: Plan, devices: list, *, data: ImageSplit | None = None,
               settings: SplitSettings | None = None, ram_fraction: float = 0.5, store=None,
               runtime_bytes: int | None = None, fusion_epochs: int = 40,
               log=print) -> dict[int, str]:
    """Place the plan's sub-models on ``devices`` (re-pruning what fits nowhere) and record it.

    ``store``: the fleet graph; when given, only devices it lists as ONNX-capable with
    enough RAM (and online) are candidates. ``data`` is loaded from the plan's data set
    only if a sub-model must be re-pruned.
    """
    from cloud_sync.edvit import placement as pl
    from cloud_sync.edvit.data import load_dataset
    from cloud_sync.edvit.split import derive_submodel

    if not plan.submodels:
        raise ValueError(f"plan {plan.root} has no sub-models; run 'cloud-sync edvit split' first")
    runtime_bytes = pl.RUNTIME_BYTES if runtime_bytes is None else runtime_bytes
    configs = {e["index"]: VitConfig.from_dict(e["config"]) for e in plan.submodels}
    keeps = {e["index"]: e["keep_ratio"] for e in plan.submodels}
    if store is not None:
        smallest = min(pl.memory_need(c, runtime_bytes=runtime_bytes) for c in configs.values())
        devices = pl.candidates_from_graph(store, devices, smallest)
    settings = settings or SplitSettings(progress=False)
    repruned: dict[int, SubModel] = {}
    cache: dict = {}

    def reprune(index: int, keep: float) -> VitConfig:
        if "full" not in cache:
            cache["data"] = data or load_dataset(plan.manifest["dataset"])
            cache["full"] = load_full(plan)
            cache["teacher"] = predict(cache["full"], cache["data"].x_train)[1]
        previous = repruned.get(index)
        repruned[index] = derive_submodel(cache["full"], cache["data"], index, plan.submodel(index)["classes"],
                                          keep, settings, importance=previous and previous.importance,
                                          teacher_logits=cache["teacher"])
        return repruned[index].model.config

    placement = pl.place_with_repruning(configs, keeps, devices, reprune, ram_fraction=ram_fraction,
                                        runtime_bytes=runtime_bytes, log=log)
    if repruned:
        subs = [repruned.get(s.index, s) for s in load_submodels(plan)]
        write_submodels(plan, subs, cache["data"], fusion_epochs, settings)
    plan.manifest["placement"] = {str(i): d for i, d in sorted(placement.items())}
    plan.manifest["devices"] = {d.id: {"profile": d.profile, "ram_bytes": d.ram_bytes,
                                       "peak_gflops": d.peak_gflops} for d in devices}
    for entry in plan.submodels:
        entry["memory_bytes"] = pl.memory_need(VitConfig.from_dict(entry["config"]),
                                               runtime_bytes=runtime_bytes)
    plan.save()
    return placement
