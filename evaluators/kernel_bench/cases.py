"""Test cases and settings of a kernel benchmark, as plain records that travel in JSON payloads.

Owns: `Case` (one input shape, dtype and layout, with the seeds it is checked on), per-dtype
`Tolerance`s, `TimingSettings` (the timing protocol's knobs) and the seed derivation every side
uses. Imports no torch, so the trusted evaluator can build payloads cheaply.

Must not: generate tensors, run kernels or judge results.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

# Layouts a task's input generator understands. "contiguous" is the plain tensor; the others give
# the candidate a non-contiguous view (a kernel that assumes stride 1 everywhere must still be right).
LAYOUTS = ("contiguous", "strided", "transposed", "offset")
DTYPES = ("float32", "float16", "bfloat16", "float64")


@dataclass(frozen=True)
class Tolerance:
    """allclose-style bound: |candidate - reference| <= atol + rtol * |reference|, elementwise."""

    rtol: float
    atol: float


# Candidates may reorder reductions or accumulate at a different precision than the reference,
# so the bound is a few units in the last place of each dtype on O(1) values.
DEFAULT_TOLERANCES: dict[str, Tolerance] = {
    "float64": Tolerance(rtol=1e-9, atol=1e-9),
    "float32": Tolerance(rtol=1e-4, atol=1e-5),
    "float16": Tolerance(rtol=4e-3, atol=4e-3),
    "bfloat16": Tolerance(rtol=3e-2, atol=3e-2),
}


@dataclass(frozen=True)
class Case:
    """One benchmark case: named sizes (task-specific), a dtype, a layout and correctness seeds."""

    name: str
    dims: dict[str, int]
    dtype: str = "float32"
    layout: str = "contiguous"
    seeds: tuple[int, ...] = (0,)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", self.name):
            raise ValueError(f"case name {self.name!r}: use letters, digits, '_', '.', '-' (it names files)")
        if self.dtype not in DTYPES:
            raise ValueError(f"case {self.name}: unknown dtype {self.dtype!r} (known: {DTYPES})")
        if self.layout not in LAYOUTS:
            raise ValueError(f"case {self.name}: unknown layout {self.layout!r} (known: {LAYOUTS})")
        if any((not isinstance(v, int)) or v < 1 for v in self.dims.values()):
            raise ValueError(f"case {self.name}: every size must be an int >= 1, got {self.dims}")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["seeds"] = list(self.seeds)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Case:
        return cls(
            name=str(data["name"]),
            dims={str(k): int(v) for k, v in data["dims"].items()},
            dtype=str(data["dtype"]),
            layout=str(data["layout"]),
            seeds=tuple(int(s) for s in data["seeds"]),
        )


@dataclass(frozen=True)
class TimingSettings:
    """The timing protocol (see protocol.py). Defaults suit a CPU quick stage."""

    warmup: int = 3  # untimed calls of each function first (JIT / torch.compile / autotune happen here)
    min_reps: int = 5
    max_reps: int = 40
    stable_rel: float = 0.03  # stop when the median moved less than this over the last reps
    budget_s: float = 1.5  # wall-clock cap per case for the interleaved loop
    flush_bytes: int = 8 << 20  # cache flush between repetitions (GPU: 256 MiB > any L2)
    compile_reference: bool = False  # also time torch.compile(reference)
    wall_block_s: float = 0.12  # target length of each back-to-back block of the wall-clock check
    max_block_calls: int = 4000

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TimingSettings:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class BenchPlan:
    """Everything the candidate-side protocol needs, chosen by the trusted side."""

    entry: str  # the candidate's function name
    task_file: str  # base name of the task module copied into the candidate's folder
    device: str  # "cpu" or "cuda:N" (the GPU slot the trusted side holds)
    cases: tuple[Case, ...]  # correctness cases (every seed of every case)
    timing_cases: tuple[Case, ...]  # timed cases (seeds[0] seeds their fresh per-repetition inputs)
    timing: TimingSettings = field(default_factory=TimingSettings)
    outputs_file: str = "outputs.pt"

    def to_json(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "task_file": self.task_file,
            "device": self.device,
            "cases": [c.to_json() for c in self.cases],
            "timing_cases": [c.to_json() for c in self.timing_cases],
            "timing": self.timing.to_json(),
            "outputs_file": self.outputs_file,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BenchPlan:
        return cls(
            entry=str(data["entry"]),
            task_file=str(data["task_file"]),
            device=str(data["device"]),
            cases=tuple(Case.from_json(c) for c in data["cases"]),
            timing_cases=tuple(Case.from_json(c) for c in data["timing_cases"]),
            timing=TimingSettings.from_json(data["timing"]),
            outputs_file=str(data["outputs_file"]),
        )


def derive_seed(*parts: object) -> int:
    """A stable 31-bit seed from any parts (same on every side and every Python run)."""
    text = "/".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") & 0x7FFFFFFF


def rep_seed(case_seed: int, rep: int) -> int:
    """Seed of the fresh inputs of timed repetition `rep` (rep < 0: warm-up and wall-check inputs)."""
    return derive_seed("rep", case_seed, rep)


def correctness_key(case: Case, seed: int) -> str:
    return f"{case.name}#seed{seed}"


def timed_key(case: Case, rep: int) -> str:
    return f"{case.name}#rep{rep}"
