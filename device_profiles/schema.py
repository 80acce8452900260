"""The profile schema: which fields a board file has, their units, and the parsed `Profile`.

Board files are written by people, so quantities carry their units ("4 GiB", "1.5 GHz",
"256 KiB", "5 W") and are parsed here into plain SI numbers. A bare number where a
unit is expected, a unit of the wrong kind ("4 GHz" for RAM), an unknown key or a
missing field is an error that names the file and the field: a silently wrong RAM
figure would make `profile fit` and model placement lie.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

DEVICE_CLASSES = ("mcu", "sbc", "jetson", "pc")
POWER_CLASSES = ("milliwatt", "low", "medium", "high")
ACCELERATOR_KINDS = ("gpu", "npu", "tpu", "dsp", "simd")
KNOWN_ORT_PROVIDERS = (
    "CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider",
    "XnnpackExecutionProvider", "OpenVINOExecutionProvider", "ROCMExecutionProvider",
    "CoreMLExecutionProvider", "DmlExecutionProvider", "QNNExecutionProvider",
    "ACLExecutionProvider", "ArmNNExecutionProvider")

# unit kind -> {unit symbol: factor to the base unit}
UNITS: dict[str, dict[str, float]] = {
    "bytes": {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
              "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40},
    "hertz": {"Hz": 1, "kHz": 1e3, "MHz": 1e6, "GHz": 1e9},
    "watts": {"mW": 1e-3, "W": 1},
    "ops_per_s": {"GOPS": 1e9, "TOPS": 1e12, "GFLOPS": 1e9, "TFLOPS": 1e12},
}
_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)\s*$")


class ProfileError(ValueError):
    """A board file that does not follow the schema; the message names file and field."""

    def __init__(self, source: str, field_name: str, problem: str):
        super().__init__(f"{source}: field '{field_name}': {problem}")
        self.source, self.field_name, self.problem = source, field_name, problem


def parse_quantity(text: Any, kind: str, *, source: str = "<text>", field_name: str = "?") -> float:
    """'4 GiB' -> 4294967296.0 for kind 'bytes'; raises ProfileError naming the field."""
    units = UNITS[kind]
    if isinstance(text, bool) or not isinstance(text, str):
        raise ProfileError(source, field_name,
                           f"expected a quantity with a unit ({', '.join(units)}), got {text!r}")
    match = _QUANTITY.match(text)
    if not match:
        raise ProfileError(source, field_name,
                           f"cannot read {text!r} as '<number> <unit>' (units: {', '.join(units)})")
    number, unit = float(match.group(1)), match.group(2)
    if unit not in units:
        raise ProfileError(source, field_name,
                           f"unit {unit!r} in {text!r} is not a unit of {kind} (use one of {', '.join(units)})")
    return number * units[unit]


def format_bytes(n: float) -> str:
    """Bytes for people: binary units, three significant figures."""
    for unit in ("GiB", "MiB", "KiB"):
        if n >= UNITS["bytes"][unit]:
            return f"{n / UNITS['bytes'][unit]:.3g} {unit}"
    return f"{int(n)} B"


@dataclass(frozen=True)
class Accelerator:
    kind: str           # gpu | npu | tpu | dsp | simd
    name: str
    tops: float | None  # peak tera-ops/s at its best precision; None when not published


@dataclass(frozen=True)
class Backends:
    litert: bool                          # ai-edge-litert / tflite-runtime can run here
    tflm: bool                            # TFLite Micro (the board itself, or its host simulator)
    onnxruntime_providers: list[str]      # in order of preference


@dataclass(frozen=True)
class Profile:
    """One board: the figures placement, `profile fit` and the fleet graph rely on."""

    id: str
    name: str
    device_class: str
    cpu_model: str
    arch: str
    cores: int
    cpu_freq_hz: float
    ram_bytes: int
    storage_bytes: int
    storage_kind: str
    accelerators: list[Accelerator]
    sensors: list[str]
    backends: Backends
    power_class: str
    power_typical_w: float
    peak_gflops: float
    external_ram_bytes: int = 0
    detect: dict[str, list[str]] = field(default_factory=dict)
    notes: str = ""
    sources: list[str] = field(default_factory=list)
    source_file: str = ""                 # where it was loaded from, or "generated"

    @property
    def is_mcu(self) -> bool:
        return self.device_class == "mcu"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, for the CLI, the TD and the fleet graph."""
        return asdict(self)


# field -> (parser, required). Parsers get (value, source, field_name) and return the parsed value.
def _text(value, source, name):
    if not isinstance(value, str) or not value.strip():
        raise ProfileError(source, name, f"expected non-empty text, got {value!r}")
    return value.strip()


def _choice(options):
    def parse(value, source, name):
        if value not in options:
            raise ProfileError(source, name, f"expected one of {', '.join(options)}, got {value!r}")
        return value
    return parse


def _positive_int(value, source, name):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ProfileError(source, name, f"expected a positive whole number, got {value!r}")
    return value


def _positive_float(value, source, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ProfileError(source, name, f"expected a positive number, got {value!r}")
    return float(value)


def _quantity(kind, as_int=False):
    def parse(value, source, name):
        number = parse_quantity(value, kind, source=source, field_name=name)
        return int(round(number)) if as_int else number
    return parse


def _text_list(value, source, name):
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ProfileError(source, name, f"expected a list of text, got {value!r}")
    return list(value)


def _accelerators(value, source, name):
    if not isinstance(value, list):
        raise ProfileError(source, name, f"expected a list, got {value!r}")
    parsed = []
    for i, item in enumerate(value):
        where = f"{name}[{i}]"
        fields = _check_mapping(item, {"kind", "name", "peak"}, {"kind", "name"}, source, where)
        peak = fields.get("peak")
        tops = None if peak is None else parse_quantity(peak, "ops_per_s", source=source,
                                                        field_name=f"{where}.peak") / 1e12
        parsed.append(Accelerator(_choice(ACCELERATOR_KINDS)(fields["kind"], source, f"{where}.kind"),
                                  _text(fields["name"], source, f"{where}.name"), tops))
    return parsed


def _backends(value, source, name):
    fields = _check_mapping(value, {"litert", "tflm", "onnxruntime_providers"},
                            {"litert", "tflm", "onnxruntime_providers"}, source, name)
    for flag in ("litert", "tflm"):
        if not isinstance(fields[flag], bool):
            raise ProfileError(source, f"{name}.{flag}", f"expected true or false, got {fields[flag]!r}")
    providers = _text_list(fields["onnxruntime_providers"], source, f"{name}.onnxruntime_providers")
    for p in providers:
        if p not in KNOWN_ORT_PROVIDERS:
            raise ProfileError(source, f"{name}.onnxruntime_providers",
                               f"unknown provider {p!r} (known: {', '.join(KNOWN_ORT_PROVIDERS)})")
    return Backends(fields["litert"], fields["tflm"], providers)


def _detect_rules(value, source, name):
    fields = _check_mapping(value, {"device_tree_model", "tegra_release", "cpuinfo"}, set(), source, name)
    return {key: _text_list(v, source, f"{name}.{key}") for key, v in fields.items()}


def _check_mapping(value, allowed: set[str], required: set[str], source: str, where: str) -> dict:
    if not isinstance(value, dict):
        raise ProfileError(source, where, f"expected a mapping, got {type(value).__name__}")
    for key in value:
        if key not in allowed:
            raise ProfileError(source, f"{where}.{key}" if where else str(key),
                               f"unknown key (allowed: {', '.join(sorted(allowed))})")
    for key in sorted(required):
        if key not in value:
            raise ProfileError(source, f"{where}.{key}" if where else key, "missing required field")
    return value


# YAML key -> (Profile attribute, parser, required)
FIELDS: dict[str, tuple[str, Any, bool]] = {
    "id": ("id", _text, True),
    "name": ("name", _text, True),
    "device_class": ("device_class", _choice(DEVICE_CLASSES), True),
    "cpu_model": ("cpu_model", _text, True),
    "arch": ("arch", _choice(("aarch64", "armv7l", "armv7e-m", "xtensa", "x86_64")), True),
    "cores": ("cores", _positive_int, True),
    "cpu_freq": ("cpu_freq_hz", _quantity("hertz"), True),
    "ram": ("ram_bytes", _quantity("bytes", as_int=True), True),
    "external_ram": ("external_ram_bytes", _quantity("bytes", as_int=True), False),
    "storage": ("storage_bytes", _quantity("bytes", as_int=True), True),
    "storage_kind": ("storage_kind", _text, True),
    "accelerators": ("accelerators", _accelerators, True),
    "sensors": ("sensors", lambda v, s, n: [] if v == [] else _text_list(v, s, n), True),
    "backends": ("backends", _backends, True),
    "power_class": ("power_class", _choice(POWER_CLASSES), True),
    "power_typical": ("power_typical_w", _quantity("watts"), True),
    "peak_gflops": ("peak_gflops", _positive_float, True),
    "detect": ("detect", _detect_rules, False),
    "notes": ("notes", _text, False),
    "sources": ("sources", _text_list, True),
}


def profile_from_mapping(data: Any, source: str) -> Profile:
    """Validate one board file's parsed YAML and build the Profile (errors name file and field)."""
    required = {key for key, (_, _, req) in FIELDS.items() if req}
    _check_mapping(data, set(FIELDS), required, source, "")
    values = {attr: parse(data[key], source, key)
              for key, (attr, parse, _) in FIELDS.items() if key in data}
    return Profile(**values, source_file=source)
