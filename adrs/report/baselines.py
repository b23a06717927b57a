"""The problem's baselines scored for the report, on the run's last evolution stage.

Owns: evaluating each `baselines/*.py` through the engine's sandboxed runner (the same path as
`adrs check`), with the run's seed and data folder, and caching the results in the archive's
state table (key `report.baselines`) so that a second report of the same run does not pay the
evaluations again. The cache is keyed by the problem's fingerprint, the stage, the seed, the
data folder and each baseline file's hash: a changed evaluator or baseline is scored afresh.

Must not: touch programs or evaluations of the run, draw, or write HTML.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from adrs.archive.store import Archive, RunRecord
from adrs.evaluate.result import Evaluation
from adrs.evaluate.runner import EvalSettings, evaluate_code_sync
from adrs.problem import Objective, Problem
from adrs.report.data import BaselineScore, descriptors_of

CACHE_KEY = "report.baselines"


def baseline_scores(
    archive: Archive, run: RunRecord, problem: Problem, say: Callable[[str], None] = lambda _m: None
) -> tuple[list[BaselineScore], str]:
    """Scores of the problem's baselines on its last evolution stage, and that stage's name."""
    stage = problem.evolution_stages[-1]
    settings = EvalSettings(
        seed=run.seed, data_dir=run.config.get("data_dir"), sandbox=str(run.config.get("sandbox", "process"))
    )
    paths = problem.baselines()
    key = {
        "fingerprint": problem.fingerprint(),
        "stage": stage.name,
        "seed": settings.seed,
        "data_dir": settings.data_dir,
        "files": {p.name: _sha256(p) for p in paths},
    }
    cached = archive.get_state(run.id, CACHE_KEY)
    if cached is not None and cached.get("key") == key:
        return [_from_dict(entry) for entry in cached.get("scores", [])], stage.name
    say(f"scoring {len(paths)} baseline(s) of {problem.name} on stage {stage.name} (once; then cached in the archive)")
    scores = []
    for path in paths:
        code = path.read_text()
        evaluation = evaluate_code_sync(problem, code, settings, (stage,))[-1]
        scores.append(_score(path.stem, evaluation, problem.objectives, code))
    archive.put_state(run.id, CACHE_KEY, {"key": key, "scores": [_to_dict(s) for s in scores]})
    return scores, stage.name


def _score(name: str, evaluation: Evaluation, objectives: tuple[Objective, ...], code: str) -> BaselineScore:
    if not evaluation.ok:
        message = evaluation.error.strip().splitlines()[-1] if evaluation.error.strip() else ""
        return BaselineScore(name, None, {}, {}, f"{evaluation.error_kind}: {message}")
    values = {}
    for objective in objectives:
        value = evaluation.score if objective.name == "score" else evaluation.metrics.get(objective.name)
        if value is not None:
            values[objective.name] = value
    descriptors = descriptors_of({**evaluation.metrics, **evaluation.features}, code)
    return BaselineScore(name, evaluation.score, values, descriptors)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _to_dict(score: BaselineScore) -> dict:
    return {
        "name": score.name,
        "score": score.score,
        "objectives": score.objectives,
        "descriptors": score.descriptors,
        "error": score.error,
    }


def _from_dict(entry: dict) -> BaselineScore:
    return BaselineScore(
        str(entry.get("name", "?")),
        entry.get("score"),
        dict(entry.get("objectives", {})),
        dict(entry.get("descriptors", {})),
        str(entry.get("error", "")),
    )

