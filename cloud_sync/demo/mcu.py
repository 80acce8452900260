"""The MCU node of the demo."""
from __future__ import annotations

from cloud_sync.demo.workloads import Workload


class McuModel(Workload):
    """A Cortex-M4-class node: a real TinyML model under TFLite Micro (the arena an MCU needs)."""

    name, role = "mcu_model", "mcu"
    needs = ("tflite_micro",)
    MODEL = "tflite_models/Hello_World.tflite"

    def available(self, ctx):
        if ctx.shared_data is None or not (ctx.shared_data / self.MODEL).exists():
            return f"shared data {self.MODEL} not found"
        return super().available(ctx)

    def tasks_for(self, device, index, ctx):
        return [{"kind": "model", "name": self.name, "interval_s": 1.0,
                 "params": {"model": str(ctx.shared_data / self.MODEL), "backend": "tflm"}}]
