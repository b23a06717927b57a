"""No combined_score: OpenEvolve scores this by the mean of its numeric metrics (booleans not counted)."""

import importlib.util

POINTS = [(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]


def evaluate(program_path):
    spec = importlib.util.spec_from_file_location("candidate", program_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    a, b = module.coefficients()
    squared = sum((a * x + b - y) ** 2 for x, y in POINTS) / len(POINTS)
    return {
        "fit": 1.0 / (1.0 + squared),
        "slope_ok": 1.0 if abs(a - 2.0) < 0.5 else 0.0,
        "finite": True,
        "error": "" if squared < 0.01 else f"mean squared error {squared:.3f}",
    }
