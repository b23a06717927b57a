"""The prism evaluator for every engine of the peer benchmark, timed the same way everywhere.

Three faces over one function (`cascade`), which runs prism's own trusted evaluator
(problems/prism/evaluator.py: the candidate runs in adrs's sandboxed harness, the evaluator
validates and scores) on the quick stage and, when the quick score reaches the stage threshold
from problem.toml, on the full stage, exactly like adrs's cascade:

- OpenEvolve-style: `evaluate(program_path) -> dict` with `combined_score`;
- ShinkaEvolve-style: `python prism_eval.py --program_path P --results_dir D` writes
  metrics.json and correct.json;
- adrs: `write_timed_problem(dir)` writes a copy of problems/prism whose evaluator.py calls
  `timed_stage`, so adrs's archive records the same `evaluator_s` metric.

combined_score is the full-stage score of a program that passed both stages, and quick - 100 for
one stopped at the quick threshold (so it ranks below every complete program, as adrs ranks it);
a failed evaluation scores -200. Every evaluation is appended to $PEERS_EVAL_LOG (one JSON line:
engine, start and end time, stage scores, time inside the evaluator, hash of the code).

Must not: run the candidate itself or trust anything it returns (prism's evaluator does that).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PRISM = REPO / "problems" / "prism"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # adrs.problemkit (the harness) and evaluators.prism, in any venv

_TOML = tomllib.loads((PRISM / "problem.toml").read_text())
QUICK_THRESHOLD = float(next(s["threshold"] for s in _TOML["stages"] if s["name"] == "quick"))
os.environ.setdefault("ADRS_CANDIDATE_TIMEOUT_S", str(_TOML["limits"]["candidate_timeout_s"]))
os.environ.setdefault("ADRS_CANDIDATE_MEMORY_MB", str(_TOML["limits"]["candidate_memory_mb"]))
FEATURES = tuple(f["name"] for f in _TOML.get("features", []))
STOPPED_OFFSET = 100.0
FAILED_SCORE = -200.0
_evaluator: Any = None


def _prism_evaluator() -> Any:
    global _evaluator
    if _evaluator is None:
        spec = importlib.util.spec_from_file_location("prism_trusted_evaluator", PRISM / "evaluator.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _evaluator = module
    return _evaluator


def timed_stage(program_path: str, stage: str, workdir: str | None = None) -> dict[str, Any]:
    """prism's evaluate() on one stage, with the seconds spent inside it added as metric evaluator_s.

    Loading the evaluator module is not timed: adrs's worker loads it before calling evaluate(),
    so an engine that starts a process per evaluation pays the import as its own overhead.
    """
    evaluator = _prism_evaluator()
    started = time.perf_counter()
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix=f"peers-{stage}-") as scratch:
            result = evaluator.evaluate(program_path, stage=stage, workdir=scratch)
    else:
        result = evaluator.evaluate(program_path, stage=stage, workdir=workdir)
    result.setdefault("metrics", {})["evaluator_s"] = time.perf_counter() - started
    return result


def cascade(program_path: str) -> dict[str, Any]:
    """quick, then full if quick reaches the threshold; never raises for a broken candidate."""
    began = time.time()
    # A failed evaluation still reports every descriptor (as 0): OpenEvolve drops a result without them.
    features = {name: 0.0 for name in FEATURES}
    out: dict[str, Any] = {
        "quick": None,
        "full": None,
        "complete": False,
        "evaluator_s": 0.0,
        "error": None,
        "features": features,
    }
    for stage in ("quick", "full"):
        stage_began = time.perf_counter()
        try:
            result = timed_stage(program_path, stage)
        except Exception as exc:  # noqa: BLE001 - CandidateError and anything else: a failed evaluation
            out["evaluator_s"] += time.perf_counter() - stage_began
            out["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            break
        out["evaluator_s"] += result["metrics"]["evaluator_s"]
        out[stage] = float(result["score"])
        out["features"] = {**features, **{k: float(v) for k, v in result.get("features", {}).items()}}
        if stage == "quick" and out["quick"] < QUICK_THRESHOLD:
            break
    else:
        out["complete"] = True
    code = Path(program_path).read_bytes()
    _log(
        {
            "engine": os.environ.get("PEERS_ENGINE", "?"),
            "t_start": began,
            "t_end": time.time(),
            "code_sha": hashlib.sha256(code).hexdigest()[:16],
            **out,
        }
    )
    return out


def combined_score(out: dict[str, Any]) -> float:
    if out["complete"]:
        return float(out["full"])
    if out["quick"] is not None:
        return float(out["quick"]) - STOPPED_OFFSET
    return FAILED_SCORE


def _log(record: dict[str, Any]) -> None:
    path = os.environ.get("PEERS_EVAL_LOG")
    if not path:
        return
    line = (json.dumps(record) + "\n").encode()
    fd = os.open(
        path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
    )  # one write per line: concurrent writers interleave whole lines
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def evaluate(program_path: str) -> dict[str, Any]:
    """OpenEvolve's evaluator interface."""
    out = cascade(program_path)
    metrics: dict[str, Any] = {"combined_score": combined_score(out), "evaluator_s": out["evaluator_s"]}
    metrics.update({k: float(v) for k, v in out["features"].items()})
    if out["error"]:
        metrics["error"] = out["error"]
    return metrics


def _shinka_main() -> None:
    parser = argparse.ArgumentParser(description="ShinkaEvolve evaluation of one prism program")
    parser.add_argument("--program_path", required=True)
    parser.add_argument("--results_dir", required=True)
    args = parser.parse_args()
    out = cascade(args.program_path)
    results = Path(args.results_dir)
    results.mkdir(parents=True, exist_ok=True)
    public = {"quick_score": out["quick"], "full_score": out["full"], **out["features"]}
    metrics = {"combined_score": combined_score(out), "public": public, "private": {"evaluator_s": out["evaluator_s"]}}
    (results / "metrics.json").write_text(json.dumps(metrics))
    (results / "correct.json").write_text(json.dumps({"correct": out["error"] is None, "error": out["error"]}))


TIMED_EVALUATOR = '''"""prism's trusted evaluator, timed for the peer benchmark \
(written by benchmarks/peers/prism_eval.py)."""
import sys

sys.path.insert(0, {peers!r})
from prism_eval import timed_stage


def evaluate(program_path, *, stage="full", workdir=None):
    return timed_stage(program_path, stage, workdir)
'''


def write_timed_problem(target: Path) -> Path:
    """A copy of problems/prism (problem.toml, initial.py) whose evaluator records evaluator_s."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("problem.toml", "initial.py"):
        (target / name).write_bytes((PRISM / name).read_bytes())
    (target / "evaluator.py").write_text(TIMED_EVALUATOR.format(peers=str(Path(__file__).resolve().parent)))
    return target


if __name__ == "__main__":
    _shinka_main()
