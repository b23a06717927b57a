"""Trusted driver of sparse_attention, run inside the candidate's sandboxed process.

Reads the candidate's view of each decode step (inputs.pt, written by the trusted evaluator and
copied into this folder: the query and the key index only, never the keys or values), calls
select_keys(step) once per case, and writes the (indices, weights) tensors to selection.pt for the
evaluator, which reads them back with torch.load(weights_only=True) and scores them itself.

Must not: compute errors or scores, or give the candidate anything but the DecodeStep.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from evaluators.kernel_bench.tensorio import save_tensors

INPUTS = "inputs.pt"
OUTPUT = "selection.pt"


@dataclass
class DecodeStep:
    """One decode step of H heads over n cached keys, as the policy sees it."""

    query: torch.Tensor  # [H, d] float32
    sketch: torch.Tensor  # [H, n, r] float16: centred keys projected on each head's top-r principal directions
    projection: torch.Tensor  # [H, d, r] float32: those directions (orthonormal columns)
    page_min: torch.Tensor  # [H, pages, d] float16: per-page (page_size keys), per-channel key minimum
    page_max: torch.Tensor  # [H, pages, d] float16: and maximum
    page_size: int
    n_keys: int
    max_fraction: float  # the mean over heads of (distinct keys read / n_keys) may not exceed this
    generator: torch.Generator  # seeded by the evaluator: use it for any sampling


def run(candidate: ModuleType, payload: dict[str, Any]) -> dict[str, Any]:
    select = getattr(candidate, "select_keys", None)
    if not callable(select):
        return {"error": "the program defines no function select_keys(step)"}
    views = torch.load(str(Path.cwd() / INPUTS), map_location="cpu", weights_only=True)
    generator = torch.Generator().manual_seed(int(payload["seed"]))
    selections: dict[str, list[torch.Tensor]] = {}
    for case in payload["cases"]:
        query, sketch, projection, page_min, page_max = views[case["name"]]
        step = DecodeStep(
            query,
            sketch,
            projection,
            page_min,
            page_max,
            int(payload["page_size"]),
            int(case["keys"]),
            float(payload["max_fraction"]),
            generator,
        )
        result = select(step)
        if (
            not isinstance(result, tuple | list)
            or len(result) != 2
            or not all(isinstance(t, torch.Tensor) for t in result)
        ):
            return {"error": f"case {case['name']}: select_keys must return (indices, weights), two tensors"}
        selections[case["name"]] = [result[0], result[1]]
    save_tensors(Path.cwd() / OUTPUT, selections)
    return {"cases": list(selections)}
