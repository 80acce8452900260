"""Does a model fit a board? Flash/storage and RAM, each with the numbers behind the answer.

* flash/storage need = the model file's size (firmware and OS are not counted; the
  answer says so), against the profile's storage;
* RAM need on an MCU = the TFLite Micro arena measured by running the model in the
  TFLM interpreter, against the board's SRAM;
* RAM need elsewhere = the peak resident memory of a fresh process that loads and
  runs the model on the profile's backend (Python and the runtime included), against
  the board's RAM. Measured on this host, so it is the same software's footprint.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from device_profiles.schema import Profile, format_bytes


@dataclass
class FitReport:
    model: str
    profile: str
    fits: bool
    flash_need_bytes: int
    flash_have_bytes: int
    ram_need_bytes: int | None
    ram_have_bytes: int
    ram_method: str
    backend: str
    reason: str = ""

    @property
    def flash_fits(self) -> bool:
        return self.flash_need_bytes <= self.flash_have_bytes

    @property
    def ram_fits(self) -> bool:
        return self.ram_need_bytes is not None and self.ram_need_bytes <= self.ram_have_bytes

    def to_dict(self) -> dict:
        return {**asdict(self), "flash_fits": self.flash_fits, "ram_fits": self.ram_fits}

    def describe(self) -> str:
        """Yes/no first, then one line per resource with need, have and headroom."""
        def line(label, need, have, how):
            if need is None:
                return f"  {label:6s} unknown ({how})"
            verdict = "ok " if need <= have else "TOO BIG"
            return (f"  {label:6s} {verdict} need {format_bytes(need)} ({need} B) of {format_bytes(have)} "
                    f"({100 * need / have:.1f}%) - {how}")
        lines = [f"{'YES' if self.fits else 'NO'}: {self.model} {'fits' if self.fits else 'does not fit'} "
                 f"on {self.profile} (backend {self.backend})",
                 line("flash" if self.ram_method.startswith("tflm") else "disk", self.flash_need_bytes,
                      self.flash_have_bytes, "model file size; firmware/OS not counted"),
                 line("RAM", self.ram_need_bytes, self.ram_have_bytes, self.ram_method)]
        if self.reason:
            lines.append(f"  reason {self.reason}")
        return "\n".join(lines)


def check_fit(model_path: str | Path, profile: Profile) -> FitReport:
    """Measure the model against the profile; raises FileNotFoundError for a missing file."""
    from edge_runtime.models import ModelError, load_model, pick_backend
    from edge_runtime.models.memory import measure_runtime_memory

    path = Path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist")
    backend = pick_backend(path, profile)
    base = dict(model=path.name, profile=profile.id, flash_need_bytes=path.stat().st_size,
                flash_have_bytes=profile.storage_bytes, ram_have_bytes=profile.ram_bytes, backend=backend)
    if profile.is_mcu or backend == "tflm":
        if path.suffix.lower() != ".tflite":
            return FitReport(**base, fits=False, ram_need_bytes=None, ram_method="tflm arena",
                             reason=f"{profile.id} runs TFLite Micro, which needs a .tflite model")
        try:
            arena = load_model(path, backend="tflm").arena_used_bytes()
        except ModelError as exc:
            return FitReport(**base, fits=False, ram_need_bytes=None, ram_method="tflm arena",
                             reason=str(exc).replace(f"{path}: ", ""))
        report = FitReport(**base, fits=False, ram_need_bytes=arena,
                           ram_method="tflm arena, measured (stack and globals not counted)")
    else:
        try:
            figures = measure_runtime_memory(path, backend)
        except ModelError as exc:
            return FitReport(**base, fits=False, ram_need_bytes=None, ram_method="measured process peak",
                             reason=str(exc))
        report = FitReport(**base, fits=False, ram_need_bytes=figures["peak_bytes"],
                           ram_method=f"measured peak RSS of a process running it on {backend} "
                                      f"(model share {format_bytes(figures['model_bytes'])})")
    report.fits = report.flash_fits and report.ram_fits
    return report
