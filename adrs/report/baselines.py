"""The problem's baselines scored for the report, on the run's last evolution stage.

Owns: evaluating each `baselines/*.py` through the engine's sandboxed runner (the same path as
`adrs check`), with the run's seed and data folder, and caching the results in a file of the
user's cache folder ($XDG_CACHE_HOME/adrs/baselines, else ~/.cache/adrs/baselines) so that a
second report does not pay the evaluations again. The cache is keyed by the problem's fingerprint,
the stage, the seed, the data folder and each baseline file's hash: a changed evaluator or
baseline is scored afresh. The report only reads archives, so the cache is not kept in one.

Must not: write to the archive, touch programs or evaluations of the run, draw, or write HTML.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from adrs.archive.store import RunRecord
from adrs.evaluate.result import Evaluation
from adrs.evaluate.runner import EvalSettings, evaluate_code_sync
from adrs.problem import Objective, Problem
from adrs.problemkit import failures
from adrs.program import NotUTF8, read_program
from adrs.report.data import BaselineScore, descriptors_of


def cache_folder() -> Path:
    """Where scored baselines are kept between reports."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "adrs" / "baselines"


def baseline_scores(
    run: RunRecord, problem: Problem, say: Callable[[str], None] = lambda _m: None
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
    cache = cache_folder() / f"{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]}.json"
    cached = _read_cache(cache)
    if cached is not None and cached.get("key") == key:
        return [_from_dict(entry) for entry in cached.get("scores", [])], stage.name
    say(f"scoring {len(paths)} baseline(s) of {problem.name} on stage {stage.name} "
        f"(once; then cached in {cache.parent})")
    scores = []
    for path in paths:
        try:
            code = read_program(path)
        except NotUTF8 as exc:  # not a program Python would run: a syntax failure, like any candidate
            scores.append(BaselineScore(path.stem, None, {}, {}, f"{failures.SYNTAX}: {exc}"))
            continue
        evaluation = evaluate_code_sync(problem, code, settings, (stage,))[-1]
        scores.append(_score(path.stem, evaluation, problem.objectives, code))
    _write_cache(cache, {"key": key, "scores": [_to_dict(s) for s in scores]})
    return scores, stage.name


def _read_cache(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # absent, unreadable or half-written: scored again
    return value if isinstance(value, dict) else None


def _write_cache(path: Path, value: dict) -> None:
    """Write whole or not at all (a temporary file renamed into place); a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as out:
            json.dump(value, out)
        os.replace(out.name, path)
    except OSError:
        return


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

