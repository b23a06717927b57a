"""What a kernel problem must define, and loading it from its file on either side of the boundary.

A task module (e.g. evaluators/fused_rmsnorm/task.py) is trusted code with:

    INPUT_NAMES: list[str]                 names of the positional arguments, for messages
    OUTPUT_COUNT: int                      how many tensors the kernel returns
    make_inputs(case, seed, device) -> list   deterministic arguments (tensors and scalars);
                                           honour case.layout (non-contiguous views) and case.dtype
    reference(*args) -> tuple[Tensor, ...] the eager PyTorch reference
    bytes_moved(case) -> int               (optional) bytes a perfect kernel must read and write
    TOLERANCES: dict[str, Tolerance]       (optional) per-dtype bounds overriding the defaults

The same file is loaded by the trusted evaluator (to recompute references) and, copied into the
candidate's folder, by the driver in the candidate's process (to build inputs and time the
reference there). Both sides load it under the module name `kernel_task`.

Must not: hold any state that scoring depends on.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from evaluators.kernel_bench.cases import DEFAULT_TOLERANCES, Case, Tolerance

MODULE_NAME = "kernel_task"


@dataclass
class KernelTask:
    module: ModuleType
    input_names: list[str]
    output_count: int
    make_inputs: Callable[[Case, int, Any], list[Any]]
    reference: Callable[..., Any]
    bytes_moved: Callable[[Case], int] | None
    tolerances: dict[str, Tolerance]

    def tolerance(self, dtype: str) -> Tolerance:
        return self.tolerances[dtype]


def load_task(path: str | Path, module_name: str = MODULE_NAME) -> KernelTask:
    """Import the task file as `module_name` and check it defines what the bench needs."""
    spec = importlib.util.spec_from_file_location(module_name, str(path))
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load kernel task from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    for name in ("INPUT_NAMES", "OUTPUT_COUNT", "make_inputs", "reference"):
        if not hasattr(module, name):
            raise AttributeError(f"kernel task {path} does not define {name}")
    tolerances = dict(DEFAULT_TOLERANCES)
    tolerances.update(getattr(module, "TOLERANCES", {}))
    return KernelTask(
        module=module,
        input_names=list(module.INPUT_NAMES),
        output_count=int(module.OUTPUT_COUNT),
        make_inputs=module.make_inputs,
        reference=module.reference,
        bytes_moved=getattr(module, "bytes_moved", None),
        tolerances=tolerances,
    )
