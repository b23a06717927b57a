"""Stand-in for `shinka.core.run_shinka_eval` (and `save_json_results`), from ShinkaEvolve's contract.

run_shinka_eval(program_path, results_dir, experiment_fn_name, num_runs, ...) imports the program,
calls its experiment function num_runs times (keyword arguments from get_experiment_kwargs(i), else
seed=i+1), validates each result with validate_fn -> (ok, message), aggregates the results with
aggregate_metrics_fn (else a count), adds timing and validation counts, marks a NaN or infinite
combined_score incorrect, replaces the metrics by defaults when anything raises, and writes
metrics.json and correct.json ({"correct": bool, "error": str | None}) into results_dir.

Runs are sequential here (a parallel request gives the same results in the same order); early
stopping is not available (install shinka-evolve for it); plots are not drawn.

Must not: be imported outside the evaluation worker.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import pickle
import statistics
import time
from collections.abc import Callable
from typing import Any

_ON_ERROR: dict[str, Any] = {
    "combined_score": 0.0,
    "execution_time_mean": 0.0,
    "execution_time_std": 0.0,
    "num_successful_runs": 0,
    "num_valid_runs": 0,
    "num_invalid_runs": 0,
    "all_validation_errors": [],
}


def save_json_results(
    results_dir: str, metrics: dict[str, Any], correct: bool, error: str | None = None, verbose: bool = True
) -> None:
    os.makedirs(results_dir, exist_ok=True)
    with open(os.path.join(results_dir, "correct.json"), "w") as out:
        json.dump({"correct": correct, "error": error}, out, indent=4)
    with open(os.path.join(results_dir, "metrics.json"), "w") as out:
        json.dump(metrics, out, indent=4, default=_plain)


def _plain(value: Any) -> Any:
    """numpy scalars and arrays (common in aggregated metrics) as JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def run_shinka_eval(
    program_path: str,
    results_dir: str,
    experiment_fn_name: str,
    num_runs: int,
    get_experiment_kwargs: Callable[[int], dict[str, Any]] | None = None,
    aggregate_metrics_fn: Callable[[list[Any]], dict[str, Any]] | None = None,
    validate_fn: Callable[[Any], tuple[bool, str | None]] | None = None,
    plotting_fn: Callable[[Any], list[Any]] | None = None,
    default_metrics_on_error: dict[str, Any] | None = None,
    early_stop_method: Any = None,
    early_stop_threshold: float | None = None,
    early_stop_score_fn: Callable[[Any], float] | None = None,
    early_stop_kwargs: dict[str, Any] | None = None,
    run_workers: int = 1,
    max_workers_cap: int | None = None,
    verbose: bool | None = None,
) -> tuple[dict[str, Any], bool, str | None]:
    if early_stop_method is not None:
        raise NotImplementedError(
            "early stopping needs the real ShinkaEvolve (pip install shinka-evolve); adrs's stand-in runs every run"
        )
    correct, first_error = True, None
    errors: list[str] = []
    valid = invalid = 0
    results: list[Any] = []
    times: list[float] = []
    try:
        experiment = _experiment(program_path, experiment_fn_name)
        for index in range(num_runs):
            kwargs = get_experiment_kwargs(index) if get_experiment_kwargs else {"seed": index + 1}
            started = time.perf_counter()
            result = experiment(**kwargs)
            times.append(time.perf_counter() - started)
            results.append(result)
            if validate_fn is None:
                continue
            ok, message = validate_fn(result)
            if ok:
                valid += 1
                continue
            invalid += 1
            correct = False
            if message:
                first_error = first_error or f"Validation failed: {message}"
                if message not in errors:
                    errors.append(message)
        if aggregate_metrics_fn is not None:
            metrics = aggregate_metrics_fn(results)
        else:
            metrics = {
                "num_successful_runs": len(results),
                "first_run_result_type": str(type(results[0])) if results else "N/A",
                "raw_results_preview": str(results[:2]) if results else "N/A",
            }
        metrics["execution_time_mean"] = statistics.fmean(times) if times else 0.0
        metrics["execution_time_std"] = statistics.pstdev(times) if times else 0.0
        if validate_fn is not None:
            metrics.update(num_valid_runs=valid, num_invalid_runs=invalid, all_validation_errors=errors)
        combined = metrics.get("combined_score")
        if isinstance(combined, int | float) and not math.isfinite(combined):
            correct = False
            first_error = first_error or (
                "combined_score is NaN" if math.isnan(combined) else f"combined_score is inf ({combined})"
            )
    except Exception as exc:  # noqa: BLE001 - ShinkaEvolve turns any failure into incorrect with default metrics
        given = default_metrics_on_error or {}
        metrics = {key: given.get(key, default) for key, default in _ON_ERROR.items()}
        first_error, correct = str(exc), False
    if "extra_data" in metrics:
        os.makedirs(results_dir, exist_ok=True)
        with open(os.path.join(results_dir, "extra.pkl"), "wb") as out:
            pickle.dump(metrics.pop("extra_data"), out)
    save_json_results(results_dir, metrics, correct, first_error)
    return metrics, correct, first_error


def _experiment(program_path: str, name: str) -> Callable[..., Any]:
    spec = importlib.util.spec_from_file_location("program", program_path)
    if spec is None or spec.loader is None:
        raise ImportError(f"Could not load spec for module at {program_path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, name):
        raise AttributeError(f"Experiment function '{name}' not found in {program_path}")
    return getattr(module, name)
