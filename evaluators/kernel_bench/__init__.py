"""kernel_bench: a trusted verifier for candidate GPU/CPU kernels against a PyTorch reference.

Protocol (details in each module):
- cases.py     shapes, dtypes, layouts (non-contiguous views), seeds, per-dtype tolerances, settings
- task.py      what a problem's task file defines (inputs, reference) and loading it
- driver.py    the trusted driver the harness copies into the candidate's sandboxed process
- protocol.py  correctness calls, then timing (warm-up, fresh inputs per repetition, cache flush,
               stable medians, eager and torch.compile references in the same process), then a
               wall-clock block stamped by the kernel's file timestamps
- checks.py    aliasing, in-place mutation, cached results, calls to the reference (in-process)
- timing.py    CUDA events on a GPU, perf counters on a CPU, cache flush, stability rule
- tensorio.py  tensors out of the candidate process: torch.save there, torch.load(weights_only=True) here
- verify.py    the trusted verdict: recomputed references, input digests, timing claims vs wall clock
- gpu_slot.py  one candidate per GPU at a time (flock on a per-GPU lock file)
- limits.py    candidate limits for torch (address space for torch, and for CUDA)
- bench.py     run_bench(): the entry point problem evaluators call

torch is an optional extra (`pip install adrs[kernels]`); nothing here is imported by adrs itself.
"""

from evaluators.kernel_bench.bench import BenchReport, candidate_home, run_bench
from evaluators.kernel_bench.cases import DEFAULT_TOLERANCES, Case, TimingSettings, Tolerance, derive_seed
from evaluators.kernel_bench.limits import candidate_limits
from evaluators.kernel_bench.verify import CaseTiming

__all__ = [
    "DEFAULT_TOLERANCES",
    "BenchReport",
    "Case",
    "CaseTiming",
    "TimingSettings",
    "Tolerance",
    "candidate_home",
    "candidate_limits",
    "derive_seed",
    "run_bench",
]
