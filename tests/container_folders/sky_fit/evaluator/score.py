"""Scores predict(x) against y = 2x + 1: train points 0..3, test points 4..7."""

import importlib.util
import json
import sys

POINTS = {"train": [0, 1, 2, 3], "test": [4, 5, 6, 7]}


def main(program_path, mode):
    print(f"scoring {program_path} in {mode} mode")  # debug output before the JSON line is ignored
    try:
        spec = importlib.util.spec_from_file_location("candidate", program_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        errors = [(float(module.predict(x)) - (2 * x + 1)) ** 2 for x in POINTS[mode]]
    except Exception as exc:  # the candidate's failure is reported, as SkyDiscover's protocol asks
        print(json.dumps({"status": "error", "combined_score": 0.0, "metrics": {}, "artifacts": {"error": repr(exc)}}))
        return
    mse = sum(errors) / len(errors)
    score = 1.0 / (1.0 + mse)
    result = {
        "status": "success",
        "combined_score": score,
        "metrics": {
            "combined_score": score,
            "mse": mse,
            "points": len(errors),
            "verdict": "exact" if mse == 0 else "off",
        },
        "artifacts": {"mode": mode},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
