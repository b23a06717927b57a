"""Trusted task of the fused_rmsnorm problem (problems/fused_rmsnorm): inputs and the eager reference.

task.py is a kernel_bench task file (see evaluators/kernel_bench/task.py): the evaluator loads it
by path, and the harness copies it into the candidate's folder, where the kernel-bench driver
loads it too. This module only names that file, so importing it costs nothing (no torch).
"""

from pathlib import Path

TASK = Path(__file__).with_name("task.py")

__all__ = ["TASK"]
