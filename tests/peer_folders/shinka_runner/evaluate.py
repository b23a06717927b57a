"""Uses ShinkaEvolve's run_shinka_eval: three seeded runs, each validated, aggregated into metrics."""

from shinka.core import run_shinka_eval

TARGET = 30


def validate(result):
    if not isinstance(result, list) or len(result) != 3:
        return False, f"expected a list of 3 numbers, got {result!r}"
    return True, None


def aggregate(results):
    gaps = [abs(TARGET - sum(r)) for r in results]
    return {
        "combined_score": 1.0 / (1.0 + sum(gaps) / len(gaps)),
        "public": {"mean_gap": sum(gaps) / len(gaps)},
        "private": {"gaps": gaps},
        "text_feedback": "gaps per seed: " + ", ".join(str(g) for g in gaps),
    }


def main(program_path, results_dir):
    run_shinka_eval(
        program_path=program_path,
        results_dir=results_dir,
        experiment_fn_name="pick",
        num_runs=3,
        get_experiment_kwargs=lambda index: {"seed": 100 + index},
        validate_fn=validate,
        aggregate_metrics_fn=aggregate,
    )
