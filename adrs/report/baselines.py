"""The problem's baselines scored for the report: on the run's last evolution stage, and on holdout.

Owns: evaluating each `baselines/*.py` through the engine's sandboxed runner (the same path as
`adrs check`), with the run's seed, data folder, sandbox and docker image, on the last evolution
stage and on every holdout stage; and the cache of those scores, so that a second report of the
same run does not pay the evaluations again. The cache is a file of the user's cache folder
($XDG_CACHE_HOME/adrs/baselines, else ~/.cache/adrs/baselines), never the archive: the report
only reads archives. It is keyed by the problem's fingerprint, the stages, the seed, the data
folder, the sandbox and each baseline file's hash: a changed evaluator or baseline is scored
afresh. Only successful scores are cached: a failure (a missing sandbox, a broken evaluator) is
evaluated again by the next report, and a failure an older adrs cached is ignored. Where the
cache is kept is `_read_cache`/`_write_cache`'s business alone.

Must not: write to the archive, touch programs or evaluations of the run, draw, or write HTML.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adrs.archive.store import RunRecord
from adrs.evaluate.result import Evaluation
from adrs.evaluate.runner import EvalSettings, evaluate_code_sync
from adrs.problem import Objective, Problem
from adrs.problemkit import failures
from adrs.program import NotUTF8, read_program
from adrs.report.data import BaselineScore, descriptors_of

CACHE_VERSION = 2  # 2: holdout scores; failures never cached


def cache_folder() -> Path:
    """Where scored baselines are kept between reports (never the archive: the report only reads it)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "adrs" / "baselines"


def run_settings(run: RunRecord) -> EvalSettings:
    """How the run evaluated its programs: its seed, data folder, sandbox and docker image.

    A setting the run left unset is stored as null and stays None here (the problem's sandbox,
    the default image), never the text "None"."""
    config = run.config

    def setting(name: str) -> str | None:
        value = config.get(name)
        return None if value is None or value == "" else str(value)

    return EvalSettings(
        seed=run.seed, data_dir=setting("data_dir"), sandbox=setting("sandbox"), docker_image=setting("docker_image")
    )


def cache_file(run: RunRecord, problem: Problem) -> Path:
    """The file of the user's cache folder that holds the scores of `problem`'s baselines as `run` would see them."""
    return _cache_path(_cache_key(run, problem))


def baseline_scores(
    run: RunRecord, problem: Problem, say: Callable[[str], None] = lambda _m: None
) -> tuple[list[BaselineScore], str]:
    """Scores of the problem's baselines on its last evolution stage (and holdout), and that stage's name."""
    stage = problem.evolution_stages[-1]
    settings = run_settings(run)
    paths = problem.baselines()
    key = _cache_key(run, problem)
    cache = _cache_path(key)
    cached = _read_cache(cache)
    known: dict[str, BaselineScore] = {}
    if cached is not None and cached.get("key") == key:
        known = {str(e.get("name")): _from_dict(e) for e in cached.get("scores", []) if not e.get("error")}
    missing = [p for p in paths if p.stem not in known]
    if missing:
        say(
            f"scoring {len(missing)} baseline(s) of {problem.name} on stage {stage.name} "
            f"(once; then cached in {cache.parent})"
        )
    scores = []
    for path in paths:
        score = known.get(path.stem) or _evaluate(path, problem, settings)
        scores.append(score)
    if missing:
        _write_cache(cache, {"key": key, "scores": [_to_dict(s) for s in scores if not s.error]})
    return scores, stage.name


def _cache_key(run: RunRecord, problem: Problem) -> dict[str, Any]:
    settings = run_settings(run)
    return {
        "version": CACHE_VERSION,
        "fingerprint": problem.fingerprint(),
        "stage": problem.evolution_stages[-1].name,
        "holdout": [s.name for s in problem.holdout_stages],
        "seed": settings.seed,
        "data_dir": settings.data_dir,
        "sandbox": settings.sandbox,
        "files": {p.name: _sha256(p) for p in problem.baselines()},
    }


def _cache_path(key: dict[str, Any]) -> Path:
    return cache_folder() / f"{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:32]}.json"


def _evaluate(path: Path, problem: Problem, settings: EvalSettings) -> BaselineScore:
    try:
        code = read_program(path)
    except NotUTF8 as exc:  # not a program Python would run: a syntax failure, like any candidate
        return BaselineScore(path.stem, None, {}, {}, f"{failures.SYNTAX}: {exc}")
    evaluation = evaluate_code_sync(problem, code, settings, (problem.evolution_stages[-1],))[-1]
    score = _score(path.stem, evaluation, problem.objectives, code)
    if score.error:
        return score
    holdout = None
    for stage in problem.holdout_stages:
        result = evaluate_code_sync(problem, code, settings, (stage,))[-1]
        if not result.ok:
            return BaselineScore(
                score.name,
                score.score,
                score.objectives,
                score.descriptors,
                f"holdout stage {stage.name}: {_reason(result)}",
            )
        holdout = result.score
    return BaselineScore(score.name, score.score, score.objectives, score.descriptors, holdout=holdout)


def _reason(evaluation: Evaluation) -> str:
    message = evaluation.error.strip().splitlines()[-1] if evaluation.error.strip() else ""
    return f"{evaluation.error_kind}: {message}"


def _score(name: str, evaluation: Evaluation, objectives: tuple[Objective, ...], code: str) -> BaselineScore:
    if not evaluation.ok:
        return BaselineScore(name, None, {}, {}, _reason(evaluation))
    values = {}
    for objective in objectives:
        value = evaluation.score if objective.name == "score" else evaluation.metrics.get(objective.name)
        if value is not None:
            values[objective.name] = value
    descriptors = descriptors_of({**evaluation.metrics, **evaluation.features}, code)
    return BaselineScore(name, evaluation.score, values, descriptors)


def _read_cache(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # absent, unreadable or half-written: scored again
    return value if isinstance(value, dict) else None


def _write_cache(path: Path, payload: dict[str, Any]) -> None:
    """Write whole or not at all (a temporary file renamed into place); a cache that cannot be written is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as out:
            json.dump(payload, out)
        os.replace(out.name, path)
    except OSError:
        return


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _to_dict(score: BaselineScore) -> dict:
    return {
        "name": score.name,
        "score": score.score,
        "objectives": score.objectives,
        "descriptors": score.descriptors,
        "holdout": score.holdout,
    }


def _from_dict(entry: dict) -> BaselineScore:
    holdout = entry.get("holdout")
    return BaselineScore(
        str(entry.get("name", "?")),
        entry.get("score"),
        dict(entry.get("objectives", {})),
        dict(entry.get("descriptors", {})),
        holdout=None if holdout is None else float(holdout),
    )
