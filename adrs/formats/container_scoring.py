"""What a container-format evaluation left behind, validated and scored on the trusted side.

Owns, for SkyDiscover's container benchmarks, the JSON protocol of evaluate.sh's stdout: the
answer is the whole stdout when it is one JSON object (pretty-printed ones included), else the
LAST line that is a JSON object (debug output printed before it is ignored). It must hold
`status` ("success", "error" or "timeout"); on success a finite number `combined_score` (the
score), `metrics` an object (numeric values become metrics, others feedback) and `artifacts` an
object of text (feedback). "error" and "timeout" are failed evaluations carrying the artifacts; a
non-zero exit is a failed evaluation whatever was printed, as in SkyDiscover.

For Harbor tasks, the reward file: /logs/verifier/reward.txt (one number) wins, else reward.json
(an object of numbers: `reward`, else `score`, else its first number is the score; every number is
a metric). test.sh's exit status is not the verdict (Harbor reads the reward whatever it was);
its output's tail is the feedback.

For both, how the container ended (deadline, disk or memory limit, a container that did not start)
comes first, as the failure kind adrs records.

Must not: talk to Docker (container_stage.py copies the files out of the stopped container) or
run anything.
"""

from __future__ import annotations

import json
import math
from typing import Any

from adrs.evaluate.result import MAX_FEEDBACK_CHARS, Evaluation
from adrs.problemkit import failures
from adrs.sandbox.base import describe_exit
from adrs.sandbox.image_run import STDERR, STDOUT, ContainerOutcome

MAX_OUTPUT_BYTES = 8 * 1024 * 1024  # stdout and stderr copied out of the container, each
MAX_REWARD_BYTES = 1024 * 1024
REWARD_TXT = "/logs/verifier/reward.txt"
REWARD_JSON = "/logs/verifier/reward.json"
TAIL_CHARS = 2000
STATUSES = ("success", "error", "timeout")
PROTOCOL = "SkyDiscover's protocol: one JSON object with status, combined_score, metrics, artifacts"


def ended_badly(stage: str, outcome: ContainerOutcome, what: str, limits: str) -> Evaluation | None:
    """The failure of a container that did not simply exit, or None when it did."""
    wall = outcome.wall_s
    if outcome.ended == "failed_to_start":
        return Evaluation.failure(stage, failures.EVALUATOR, f"the container did not start: {outcome.message}", wall)
    if outcome.ended == "timeout":
        return Evaluation.failure(
            stage, failures.TIMEOUT, f"{what} exceeded the stage's time limit ({limits}); container killed", wall
        )
    if outcome.ended == "disk":
        return Evaluation.failure(
            stage,
            failures.OUTPUT_LIMIT,
            f"{what} outgrew the container's disk limit ({limits}); container killed",
            wall,
        )
    if outcome.ended == "memory":
        return Evaluation.failure(
            stage, failures.MEMORY, f"{what} was killed by the container's memory limit ({limits})", wall
        )
    return None


def container_evaluation(stage: str, outcome: ContainerOutcome, limits: str) -> Evaluation:
    """The Evaluation of one evaluate.sh run of a SkyDiscover container benchmark."""
    failed = ended_badly(stage, outcome, "evaluate.sh", limits)
    if failed is not None:
        return failed
    wall = outcome.wall_s
    stdout, stderr = _text(outcome, STDOUT), _text(outcome, STDERR)
    answer = last_json_object(stdout)
    if outcome.status:
        kind, sentence = describe_exit(-(outcome.status - 128) if 128 < outcome.status < 160 else outcome.status)
        hint = _hint(outcome.status, stderr)
        said = f"\nits JSON: {_artifacts_text(answer)}" if isinstance(answer, dict) and answer.get("artifacts") else ""
        return Evaluation.failure(stage, kind, f"evaluate.sh {sentence}{hint}{said}{_tails(stdout, stderr)}", wall)
    if STDOUT in outcome.refused:
        return Evaluation.failure(stage, failures.OUTPUT_LIMIT, f"evaluate.sh's stdout {outcome.refused[STDOUT]}", wall)
    if answer is None:
        return Evaluation.failure(
            stage,
            failures.INVALID_OUTPUT,
            f"evaluate.sh printed no JSON object on stdout ({PROTOCOL}){_tails(stdout, stderr)}",
            wall,
        )
    return _protocol_evaluation(stage, answer, wall, stderr)


def last_json_object(stdout: str) -> dict[str, Any] | None:
    """The whole stdout when it is one JSON object, else the last line that is one."""
    text = stdout.strip()
    for candidate in [text, *reversed(text.splitlines())]:
        candidate = candidate.strip()
        if not candidate.startswith("{"):
            continue
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _protocol_evaluation(stage: str, answer: dict[str, Any], wall: float, stderr: str) -> Evaluation:
    def invalid(why: str) -> Evaluation:
        return Evaluation.failure(stage, failures.INVALID_OUTPUT, f"evaluate.sh's JSON is not {PROTOCOL}: {why}", wall)

    status, metrics, artifacts = answer.get("status"), answer.get("metrics", {}), answer.get("artifacts", {})
    if status not in STATUSES:
        return invalid(f"status is {status!r}, expected one of {list(STATUSES)}")
    if not isinstance(metrics, dict):
        return invalid(f"metrics is {type(metrics).__name__}, expected an object")
    if not isinstance(artifacts, dict):
        return invalid(f"artifacts is {type(artifacts).__name__}, expected an object")
    feedback = "\n".join(
        [f"{k}: {v}" for k, v in metrics.items() if not _number(v)] + [f"{k}: {v}" for k, v in artifacts.items()]
    )
    if status != "success":
        kind = failures.TIMEOUT if status == "timeout" else failures.EXCEPTION
        detail = f"\n{feedback}" if feedback else _tails("", stderr)
        return Evaluation.failure(
            stage, kind, f"evaluate.sh reported status {status!r}{detail}"[:MAX_FEEDBACK_CHARS], wall
        )
    score = answer.get("combined_score")
    if not _number(score) or not math.isfinite(score):
        return invalid(f"combined_score is {score!r}, expected a finite number")
    numbers = {str(k): float(v) for k, v in metrics.items() if _number(v) and math.isfinite(v)}
    numbers.update(combined_score=float(score), score=float(score))
    return Evaluation(
        stage=stage,
        ok=True,
        score=float(score),
        metrics=numbers,
        feedback=feedback[:MAX_FEEDBACK_CHARS],
        duration_s=wall,
    )


def harbor_evaluation(stage: str, outcome: ContainerOutcome, limits: str) -> Evaluation:
    """The Evaluation of one tests/test.sh run of a Harbor task, from its reward file."""
    failed = ended_badly(stage, outcome, "tests/test.sh", limits)
    if failed is not None:
        return failed
    wall = outcome.wall_s
    stdout, stderr = _text(outcome, STDOUT), _text(outcome, STDERR)
    for path in (REWARD_TXT, REWARD_JSON):
        if path in outcome.refused:
            return Evaluation.failure(stage, failures.INVALID_OUTPUT, f"{path} {outcome.refused[path]}", wall)
    exit_line = f"test.sh exit status: {outcome.status}" if outcome.status else ""
    if REWARD_TXT in outcome.files:
        score, metrics, why = _reward_txt(outcome.files[REWARD_TXT])
    elif REWARD_JSON in outcome.files:
        score, metrics, why = _reward_json(outcome.files[REWARD_JSON])
    else:
        status = f" (test.sh exited with status {outcome.status})" if outcome.status is not None else ""
        return Evaluation.failure(
            stage,
            failures.INVALID_OUTPUT,
            f"tests/test.sh wrote no {REWARD_TXT} or {REWARD_JSON}{status}{_tails(stdout, stderr)}",
            wall,
        )
    if score is None:
        return Evaluation.failure(stage, failures.INVALID_OUTPUT, f"{why}{_tails(stdout, stderr)}", wall)
    metrics.update(reward=score, score=score)
    feedback = "\n".join(part for part in (exit_line, _tail(stdout), _tail(stderr)) if part)
    return Evaluation(
        stage=stage, ok=True, score=score, metrics=metrics, feedback=feedback[-MAX_FEEDBACK_CHARS:], duration_s=wall
    )


def _reward_txt(data: bytes) -> tuple[float | None, dict[str, float], str]:
    text = data.decode("utf-8", "replace").strip()
    try:
        value = float(text)
    except ValueError:
        return None, {}, f"{REWARD_TXT} holds {text[:80]!r}, not a number"
    if not math.isfinite(value):
        return None, {}, f"{REWARD_TXT} holds {text[:80]!r}, not a finite number"
    return value, {}, ""


def _reward_json(data: bytes) -> tuple[float | None, dict[str, float], str]:
    try:
        value = json.loads(data)
    except ValueError as exc:
        return None, {}, f"{REWARD_JSON}: invalid JSON: {exc}"
    if not isinstance(value, dict):
        return None, {}, f"{REWARD_JSON} holds {type(value).__name__}, expected an object of numbers"
    numbers = {str(k): float(v) for k, v in value.items() if _number(v) and math.isfinite(v)}
    key = next((k for k in ("reward", "score") if k in value), next(iter(value), None))
    if key is None or key not in numbers:
        return (
            None,
            {},
            f"{REWARD_JSON}: no finite number to score ('reward', else 'score', else the first value): {value!r}"[:400],
        )
    return numbers[key], numbers, ""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(outcome: ContainerOutcome, path: str) -> str:
    return outcome.files.get(path, b"").decode("utf-8", "replace")


def _tail(text: str) -> str:
    text = text.strip()
    return text if len(text) <= TAIL_CHARS else "..." + text[-TAIL_CHARS:]


def _tails(stdout: str, stderr: str) -> str:
    parts = [
        f"\n{name} tail:\n{_tail(text)}" for name, text in (("stdout", stdout), ("stderr", stderr)) if text.strip()
    ]
    return "".join(parts)


def _artifacts_text(answer: dict[str, Any]) -> str:
    artifacts = answer.get("artifacts")
    return "; ".join(f"{k}: {v}" for k, v in artifacts.items()) if isinstance(artifacts, dict) else str(artifacts)


def _hint(status: int, stderr: str) -> str:
    if status in (126, 127) and "evaluate.sh" in stderr:
        return (
            " (the image has no executable /benchmark/evaluate.sh: SkyDiscover's layout is WORKDIR /benchmark,"
            " COPY . ., and evaluate.sh executable with a #! line)"
        )
    return ""
