"""Scores the estimate of sqrt(2); returns OpenEvolve's EvaluationResult with text artifacts."""

import importlib.util
import math

from openevolve.evaluation_result import EvaluationResult


def evaluate(program_path):
    spec = importlib.util.spec_from_file_location("candidate", program_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    value = float(module.estimate())
    error = abs(value - math.sqrt(2.0))
    return EvaluationResult(
        metrics={
            "combined_score": 1.0 / (1.0 + 100.0 * error),
            "abs_error": error,
            "verdict": "close" if error < 1e-3 else "too far",
        },
        artifacts={"estimate": f"{value:.10f}", "advice": b"Newton steps converge quadratically"},
    )
