"""The trusted driver of kernel problems: the file the harness copies into the candidate's folder.

`run(candidate, payload)` loads the task module copied beside it (payload["task_file"]), finds the
candidate's kernel function (payload["entry"]), runs the protocol (protocol.py) and returns its
report as JSON. Outputs go to a tensor file in the candidate's folder, read back by the trusted side
with torch.load(weights_only=True).

Must not: judge the run (the trusted side does), or import anything from the problem directory
other than the task file the trusted side copied here.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

from evaluators.kernel_bench.cases import BenchPlan
from evaluators.kernel_bench.protocol import Protocol
from evaluators.kernel_bench.task import load_task


def run(candidate: ModuleType, payload: dict[str, Any]) -> dict[str, Any]:
    plan = BenchPlan.from_json(payload)
    home = Path.cwd()
    task = load_task(home / plan.task_file)
    kernel = getattr(candidate, plan.entry, None)
    if not callable(kernel):
        return {
            "correctness": {},
            "timing": {},
            "notes": [],
            "violation": f"the program defines no function {plan.entry}()",
        }
    return Protocol(kernel, task, plan, home).run()
