"""main(program_path, results_dir) writes metrics.json and correct.json, ShinkaEvolve's evaluator contract."""

import importlib.util
import json
import math
import os

POINTS = [-1.0, -0.5, 0.0, 0.5, 1.0]


def main(program_path, results_dir):
    spec = importlib.util.spec_from_file_location("program", program_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    errors = [abs(float(module.approximate(x)) - math.cos(x)) for x in POINTS]
    correct = all(math.isfinite(e) for e in errors) and max(errors) < 0.5
    mean_error = sum(errors) / len(errors)
    metrics = {
        "combined_score": 1.0 - mean_error if correct else 0.0,
        "public": {"mean_abs_error": mean_error, "shape": "even polynomial"},
        "private": {"worst_point": POINTS[errors.index(max(errors))]},
        "text_feedback": f"largest error {max(errors):.4f}",
    }
    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, "metrics.json"), "w") as out:
        json.dump(metrics, out)
    with open(os.path.join(results_dir, "correct.json"), "w") as out:
        json.dump({"correct": correct, "error": None if correct else f"error {max(errors):.3f} is too large"}, out)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--program_path", default="initial.py")
    parser.add_argument("--results_dir", default="results")
    args = parser.parse_args()
    main(args.program_path, args.results_dir)
