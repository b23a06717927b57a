"""Candidate process limits for torch-based problems.

The engine's worker exports the problem's [limits] as ADRS_CANDIDATE_TIMEOUT_S / _MEMORY_MB; when an
evaluator is called directly (tests, scripts) those are absent, and the values come from the
problem's own problem.toml instead of the harness's 4096 MB / 60 s defaults. Importing torch (CPU)
needs about 2 GB of address space (measured: it works at 2048 MB); torch.compile needs more.
On a GPU the CUDA driver reserves address space in proportion to host plus device memory, far
beyond what it uses, so an RLIMIT_AS sized for CPU work makes CUDA initialisation fail; the
candidate limit is raised to at least host RAM + total GPU memory + 16 GB there (untested on this
CPU-only machine; a worker whose own [limits] memory_mb is lower caps it, see README).

Must not: start processes.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from adrs.problemkit import ProcessLimits


def problem_limits(problem_root: Path) -> tuple[float, int]:
    """(candidate_timeout_s, candidate_memory_mb) from problem.toml, env overrides first."""
    table = {}
    toml = problem_root / "problem.toml"
    if toml.exists():
        table = tomllib.loads(toml.read_text()).get("limits", {})
    timeout = float(os.environ.get("ADRS_CANDIDATE_TIMEOUT_S") or table.get("candidate_timeout_s", 60))
    memory = int(os.environ.get("ADRS_CANDIDATE_MEMORY_MB") or table.get("candidate_memory_mb", 8192))
    return timeout, memory


def cuda_memory_floor_mb() -> int:
    """Address space CUDA initialisation needs under RLIMIT_AS (0 when no GPU is visible)."""
    try:
        import torch

        if not torch.cuda.is_available():
            return 0
        device_bytes = sum(torch.cuda.get_device_properties(i).total_memory for i in range(torch.cuda.device_count()))
    except Exception:  # noqa: BLE001 - no usable CUDA means no floor
        return 0
    host_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return (host_bytes + device_bytes) // (1 << 20) + 16384


def candidate_limits(problem_root: Path, timeout_s: float | None = None) -> ProcessLimits:
    timeout, memory = problem_limits(problem_root)
    if timeout_s is not None:
        timeout = min(timeout, timeout_s)
    return ProcessLimits(timeout_s=timeout, memory_mb=max(memory, cuda_memory_floor_mb()))
