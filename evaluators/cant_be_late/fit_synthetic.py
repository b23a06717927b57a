"""Fit the synthetic trace model to the real traces; run once, by hand, to write synthetic_params.json.

    python -m evaluators.cant_be_late.fit_synthetic --data ../shared/data/cant_be_late

Every env's 300 pool traces are windows (random start times) of ONE longer availability trace of
1764 ticks; this script stitches the windows back together with their `metadata.start_time`, cuts
the result into runs of available and unavailable ticks (dropping the two runs cut by the ends),
and fits each run-length distribution with a mixture of two geometric laws (EM): many short
blips plus a long tail, which one geometric law (a Markov chain) misses. The generator
(synthetic.py) alternates runs drawn from these laws.

Owns: the fitting procedure and the provenance written beside the parameters.
Must not: be imported by the evaluator (the evaluator only reads the JSON it writes).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import tarfile
from pathlib import Path

import numpy as np

from evaluators.cant_be_late.real_traces import POOL_TARBALL

OUTPUT = Path(__file__).with_name("synthetic_params.json")
COMPONENTS = 2
EM_ITERATIONS = 2000
_MEMBER = re.compile(r"^real/([^/]+)/traces/random_start/[^/]+\.json$")


def stitched_traces(pool: Path) -> dict[str, np.ndarray]:
    """env -> the underlying 0/1 unavailability series, rebuilt from its windows."""
    pieces: dict[str, list[tuple[int, list[int]]]] = {}
    with tarfile.open(pool, "r:gz") as archive:
        for member in archive:
            match = _MEMBER.match(member.name)
            if match and member.isfile():
                record = json.load(archive.extractfile(member))  # type: ignore[arg-type]
                pieces.setdefault(match.group(1), []).append((record["metadata"]["start_time"], record["data"]))
    series = {}
    for env, windows in sorted(pieces.items()):
        length = max(start + len(data) for start, data in windows)
        values = np.full(length, -1, dtype=np.int8)
        for start, data in windows:
            window = np.asarray(data, dtype=np.int8)
            seen = values[start : start + len(window)]
            if np.any((seen >= 0) & (seen != window)):
                raise ValueError(f"{env}: overlapping windows disagree at start {start}")
            values[start : start + len(window)] = window
        series[env] = values[values >= 0]  # the few ticks before the earliest start are unknown
    return series


def run_lengths(values: np.ndarray) -> dict[int, np.ndarray]:
    """Lengths of maximal runs of each value (0 = available, 1 = unavailable), end runs dropped."""
    edges = np.flatnonzero(np.diff(values)) + 1
    starts = np.concatenate(([0], edges))
    lengths = np.diff(np.concatenate((starts, [len(values)])))
    kinds = values[starts]
    inner = slice(1, len(lengths) - 1)
    return {kind: lengths[inner][kinds[inner] == kind] for kind in (0, 1)}


def fit_geometric_mixture(lengths: np.ndarray, components: int = COMPONENTS) -> dict:
    """EM for a mixture of geometric laws on {1, 2, ...}: weights and mean run lengths."""
    x = lengths.astype(float)
    means = np.quantile(x, np.linspace(0.1, 0.9, components)) + 0.5
    weights = np.full(components, 1.0 / components)
    for _ in range(EM_ITERATIONS):
        p = 1.0 / means
        log_like = np.log(weights) + np.log(p) + (x[:, None] - 1) * np.log1p(-np.minimum(p, 1 - 1e-12))
        resp = np.exp(log_like - log_like.max(axis=1, keepdims=True))
        resp /= resp.sum(axis=1, keepdims=True)
        mass = resp.sum(axis=0) + 1e-12
        weights = mass / mass.sum()
        means = np.maximum((resp * x[:, None]).sum(axis=0) / mass, 1.0)
    order = np.argsort(means)
    return {
        "weights": [round(float(w), 6) for w in weights[order]],
        "mean_ticks": [round(float(m), 4) for m in means[order]],
    }


def fit(pool: Path) -> dict:
    envs = {}
    for env, values in stitched_traces(pool).items():
        runs = run_lengths(values)
        envs[env] = {
            "availability": round(float(np.mean(values == 0)), 6),
            "available_runs": fit_geometric_mixture(runs[0]),
            "unavailable_runs": fit_geometric_mixture(runs[1]),
            "observed": {
                "ticks": int(len(values)),
                "available_runs": int(len(runs[0])),
                "unavailable_runs": int(len(runs[1])),
                "mean_available_run": round(float(runs[0].mean()), 3),
                "mean_unavailable_run": round(float(runs[1].mean()), 3),
            },
        }
    return {
        "description": "Per-env alternating-run model of spot availability, fitted by "
        "evaluators/cant_be_late/fit_synthetic.py. Run lengths in 600 s ticks; each "
        "is a mixture of geometric laws on {1, 2, ...}.",
        "source": {"file": POOL_TARBALL, "sha256": hashlib.sha256(pool.read_bytes()).hexdigest()},
        "envs": envs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help=f"folder holding {POOL_TARBALL}")
    parser.add_argument("--out", type=Path, default=OUTPUT)
    args = parser.parse_args()
    params = fit(args.data / POOL_TARBALL)
    args.out.write_text(json.dumps(params, indent=1) + "\n")
    for env, entry in params["envs"].items():
        print(
            f"{env:18s} availability {entry['availability']:.3f} "
            f"available {entry['available_runs']} unavailable {entry['unavailable_runs']}"
        )


if __name__ == "__main__":
    main()
