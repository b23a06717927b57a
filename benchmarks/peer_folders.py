"""OpenEvolve's example folders under adrs, unchanged: check, initial score against OpenEvolve's own, a short run.

    PY=/path/to/venv-with-adrs/bin/python     # adrs plus the packages the examples import
    OE=/path/to/openevolve-0.4.0-venv/bin/python
    nice $PY benchmarks/peer_folders.py OPENEVOLVE_CHECKOUT --native-python $OE --budget 30 --json out.json
    $PY benchmarks/peer_folders.py --from-json out.json      # the table again, from saved results
    $PY benchmarks/peer_folders.py SHINKA_CHECKOUT --shinka --native-python SHINKA_VENV/bin/python

For every folder under OPENEVOLVE_CHECKOUT/examples that holds an evaluator.py (a checkout of
OpenEvolve's public repository; this script fetches nothing), copied first to a scratch folder:

1. `adrs check DIR` (its exit status and first error line);
2. the initial program's score under adrs (`adrs eval DIR INITIAL --json`, the last stage's score);
3. the same under OpenEvolve itself: its `Evaluator` with the folder's config.yaml (OpenEvolve's
   defaults without one) on the initial program, in the --native-python interpreter, working
   directory the folder, scored by its `get_fitness_score`; run a second time when the two differ,
   to tell a stochastic evaluator from a disagreement;
4. `adrs run DIR --budget N --mutator offline` (no LLM: the offline mutator proposes).

With --shinka the checkout is ShinkaEvolve's: folders holding evaluate.py, and the native score is
what its launcher gets (`python evaluate.py --program_path initial.py --results_dir R`, then
metrics.json's combined_score when correct.json says correct).

A folder "runs unchanged" when check passes, the initial scores agree (to the 6 significant
digits `adrs check` prints) and the run spends its budget. A folder is "offline Python" when its
initial program is Python and OpenEvolve's own evaluation of it succeeds here (no network, no GPU,
no LLM judge, no missing outside repository): no error metrics, no "error" text in its metrics.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

NATIVE = (
    r"""
import asyncio, json, math, os, sys
from openevolve.config import load_config
from openevolve.evaluator import Evaluator
from openevolve.utils.metrics_utils import get_fitness_score
folder, initial = sys.argv[1], sys.argv[2]
config_path = os.path.join(folder, "config.yaml")
config = load_config(config_path if os.path.exists(config_path) else None)
evaluator = Evaluator(config.evaluator, os.path.join(folder, "evaluator.py"), suffix=config.file_suffix)
code = open(os.path.join(folder, initial)).read()
metrics = asyncio.run(evaluator.evaluate_program(code, "initial"))
score = get_fitness_score(metrics, config.database.feature_dimensions)
failed = set(metrics) <= {"error", "timeout", "stage1_passed"} and metrics.get("error") == 0.0
artifacts = evaluator.get_pending_artifacts("initial") or {}
for where in (metrics, artifacts):  # an evaluator that caught an exception reports it as text
    for key in ("error", "stderr", "error_message"):
        if not failed and isinstance(where.get(key), str) and where[key].strip():
            failed = "the evaluator reports an error: " + where[key].strip().splitlines()[0][:200]
plain = {k: (v if isinstance(v, (int, float, str, bool)) and not (isinstance(v, float) and not math.isfinite(v))"""
    r""" else repr(v)) for k, v in metrics.items()}
print("NATIVE-RESULT " + json.dumps({"score": score if math.isfinite(score) else repr(score), "failed": failed,"""
    r""" "metrics": plain}), flush=True)
os._exit(0)  # a timed-out evaluation's thread must not hold the interpreter open
"""
)


@dataclass
class Row:
    folder: str
    python: bool = True
    network: bool = False  # the evaluator needs the network (said by --network): not an offline folder
    check: str = ""  # ok, or the first error line
    adrs_score: float | None = None
    adrs_error: str = ""
    native_score: float | None = None
    native_error: str = ""
    native_again: float | None = None  # a second native score when the first differed from adrs
    run: str = ""  # "30/30 evals, best X" or what went wrong
    run_best: float | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def offline(self) -> bool:
        return self.python and not self.network and self.native_score is not None and not self.native_error

    @property
    def same_score(self) -> bool:
        """Equal to the 6 significant digits `adrs check` prints."""
        if self.adrs_score is None or self.native_score is None:
            return False
        return f"{self.adrs_score:.6g}" == f"{self.native_score:.6g}"

    @property
    def stochastic(self) -> bool:
        return (
            self.native_again is not None and self.native_score is not None and self.native_again != self.native_score
        )

    @property
    def unchanged(self) -> bool:
        return self.check == "ok" and self.same_score and self.run.startswith("ok")


SHINKA_NATIVE = r"""
import json, os, subprocess, sys, tempfile
folder, initial, python = sys.argv[1], sys.argv[2], sys.argv[3]
with tempfile.TemporaryDirectory() as results:
    done = subprocess.run([python, "evaluate.py", "--program_path", initial, "--results_dir", results],
                          cwd=folder, capture_output=True, text=True)
    def read(name):
        try:
            with open(os.path.join(results, name)) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None
    correct, metrics = read("correct.json") or {}, read("metrics.json") or {}
print("NATIVE-RESULT " + json.dumps({"correct": correct.get("correct", False), "error": correct.get("error"),
      "score": metrics.get("combined_score", 0.0), "tail": done.stderr[-300:]}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", nargs="?", help="a checkout of OpenEvolve's repository")
    parser.add_argument("--native-python", help="python of a venv with openevolve==0.4.0")
    parser.add_argument(
        "--shinka",
        action="store_true",
        help="the checkout is ShinkaEvolve's: folders with evaluate.py, run natively as its launcher does"
        " (python evaluate.py --program_path initial.py --results_dir R)"
        " with --native-python (shinka-evolve installed)",
    )
    parser.add_argument("--budget", type=int, default=30, help="evaluations of each adrs run")
    parser.add_argument("--only", nargs="*", help="folders (relative to examples/) to run")
    parser.add_argument("--step-timeout", type=float, default=900.0, help="seconds for one step of one folder")
    parser.add_argument("--run-timeout", type=float, default=1800.0, help="seconds for one folder's run")
    parser.add_argument(
        "--run-max-time", type=float, default=None, help="wall-clock cap of each run (adrs run --max-time)"
    )
    parser.add_argument("--skip", nargs="*", default=[], help="folders (relative to examples/) not to run")
    parser.add_argument(
        "--network",
        nargs="*",
        default=[],
        help="folders whose evaluator needs the network (read from their code): not counted as offline",
    )
    parser.add_argument("--json", help="write every row here (also after each folder)")
    parser.add_argument(
        "--from-json", nargs="+", help="render the table of saved rows (several files: in order) and stop"
    )
    args = parser.parse_args()
    if args.from_json:
        rows = [Row(**r) for path in args.from_json for r in json.loads(Path(path).read_text())]
        for row in rows:
            row.network = row.network or row.folder in args.network
        print(render(rows, args.budget))
        return
    if not args.checkout or not args.native_python:
        parser.error("give the checkout and --native-python (or --from-json)")
    examples = Path(args.checkout) / "examples"
    folders = sorted(p.parent for p in examples.rglob("evaluate.py" if args.shinka else "evaluator.py"))
    if args.only:
        folders = [f for f in folders if str(f.relative_to(examples)) in args.only]
    folders = [f for f in folders if str(f.relative_to(examples)) not in args.skip]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="adrs-peer-folders-") as scratch:
        for source in folders:
            name = str(source.relative_to(examples))
            target = Path(scratch) / name.replace("/", "__")
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "openevolve_output*"))
            row = measure(name, target, Path(scratch), args)
            rows.append(row)
            print(
                f"{name}: check {row.check[:60]!r}, adrs {row.adrs_score}, native {row.native_score}"
                f" {row.native_error[:60]!r}, run {row.run[:60]!r}",
                file=sys.stderr,
                flush=True,
            )
            if args.json:
                Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=1))
    print(render(rows, args.budget))


def measure(name: str, folder: Path, scratch: Path, args: argparse.Namespace) -> Row:
    row = Row(folder=name, network=name in args.network)
    names = ("initial.py",) if args.shinka else ("initial_program.py", "initial.py")
    initial = next((n for n in names if (folder / n).is_file()), None)
    if initial is None:
        row.python = False
        others = sorted(p.name for p in folder.glob("initial*.*")) or ["no initial program"]
        row.check = row.run = f"not Python ({others[0]})"
        return row
    row.check, row.adrs_score, row.adrs_error = timed(row, "check", lambda: check(folder, initial, args.step_timeout))
    native = shinka_score if args.shinka else native_score
    row.native_score, row.native_error = timed(row, "native", lambda: native(folder, initial, args))
    if row.native_score is not None and row.adrs_score is not None and not row.same_score:
        row.native_again, _ = timed(row, "native_again", lambda: native(folder, initial, args))
    if row.check == "ok":
        row.run, row.run_best = timed(row, "run", lambda: short_run(folder, scratch, args))
    else:
        row.run = "not run (check failed)"
    return row


def timed(row: Row, step: str, work):
    started = time.monotonic()
    try:
        return work()
    finally:
        row.seconds[step] = round(time.monotonic() - started, 1)


def adrs(args: list[str], timeout: float, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "400"}
    return subprocess.run(
        [sys.executable, "-m", "adrs.cli", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env
    )


def check(folder: Path, initial: str, timeout: float) -> tuple[str, float | None, str]:
    """`adrs check`: ok or its first error line; the initial program's score (its last stage line)."""
    try:
        done = adrs(["check", str(folder)], timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:g} s", None, "timed out"
    output = done.stdout + done.stderr
    scores = re.findall(rf"^  {re.escape(initial)} \[\w+\]: score (\S+) ", done.stdout, flags=re.MULTILINE)
    score = float(scores[-1]) if scores else None
    if done.returncode == 0:
        return "ok", score, ""
    errors = [line for line in output.splitlines() if "error" in line.lower()]
    first = (errors[0] if errors else (output.strip().splitlines() or ["no output"])[-1]).strip()[:300]
    failed = re.findall(rf"^  {re.escape(initial)} \[\w+\]: failed (.*)$", done.stdout, flags=re.MULTILINE)
    return first, (None if failed else score), (failed[-1][:300] if failed else first)


def native_score(folder: Path, initial: str, args: argparse.Namespace) -> tuple[float | None, str]:
    try:
        done = subprocess.run(
            [args.native_python, "-c", NATIVE, str(folder), initial],
            capture_output=True, text=True, timeout=args.step_timeout, cwd=folder,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return None, f"timed out after {args.step_timeout:g} s"
    line = next((x for x in done.stdout.splitlines() if x.startswith("NATIVE-RESULT ")), None)
    if line is None:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"OpenEvolve could not evaluate it: {tail[:250]}"
    result = json.loads(line.removeprefix("NATIVE-RESULT "))
    if not isinstance(result["score"], float | int):
        return None, f"non-finite fitness {result['score']}"
    if isinstance(result["failed"], str):
        return float(result["score"]), result["failed"]
    if result["failed"]:
        stderr = [x for x in done.stderr.splitlines() if "Error" in x or "failed" in x]
        return float(
            result["score"]
        ), f"OpenEvolve's evaluation failed: {(stderr[-1] if stderr else 'error metrics')[:250]}"
    return float(result["score"]), ""


def shinka_score(folder: Path, initial: str, args: argparse.Namespace) -> tuple[float | None, str]:
    """ShinkaEvolve's own reading: combined_score of metrics.json, correct.json's correct."""
    try:
        done = subprocess.run([sys.executable, "-c", SHINKA_NATIVE, str(folder), initial, args.native_python],
                              capture_output=True, text=True, timeout=args.step_timeout)  # fmt: skip
    except subprocess.TimeoutExpired:
        return None, f"timed out after {args.step_timeout:g} s"
    line = next((x for x in done.stdout.splitlines() if x.startswith("NATIVE-RESULT ")), None)
    if line is None:
        return None, "no result"
    result = json.loads(line.removeprefix("NATIVE-RESULT "))
    if not result["correct"]:
        tail = (result["tail"].strip().splitlines() or [""])[-1]
        return None, f"incorrect: {result['error'] or tail}"[:250]
    return float(result["score"]), ""


def short_run(folder: Path, scratch: Path, args: argparse.Namespace) -> tuple[str, float | None]:
    archive = scratch / f"{folder.name}.sqlite"
    try:
        capped = ["--max-time", str(args.run_max_time)] if args.run_max_time else []
        done = adrs(["run", str(folder), "--budget", str(args.budget), "--mutator", "offline", "--quiet",
                     "--archive", str(archive), *capped],
                    args.run_timeout, cwd=scratch)  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"timed out after {args.run_timeout:g} s", None
    if done.returncode != 0 or not archive.exists():
        tail = (done.stdout + done.stderr).strip().splitlines()
        return f"failed: {tail[-1][:200] if tail else 'no output'}", None
    with sqlite3.connect(archive) as db:
        evaluated = db.execute(
            "select count(*) from programs where status in ('evaluated', 'failed') and migrated_from is null"
        ).fetchone()[0]
        failed = db.execute(
            "select count(*) from programs where status = 'failed' and migrated_from is null"
        ).fetchone()[0]
        best = db.execute("select max(score) from programs where complete").fetchone()[0]
        if best is None:  # every program stopped at a cascade threshold: the best of those
            best = db.execute("select max(score) from programs where status = 'evaluated'").fetchone()[0]
    stopped = next((x for x in done.stdout.splitlines() if x.startswith("Stopped:")), "")
    verdict = "ok" if evaluated >= args.budget else f"stopped early ({stopped.removeprefix('Stopped: ')[:80]})"
    return f"{verdict}: {evaluated} evals, {failed} failed", best


def render(rows: list[Row], budget: int) -> str:
    out = [
        "| example folder | offline Python | adrs check | initial score: adrs | the framework itself "
        f"| run of {budget} evaluations (best) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        adrs_text = (
            _number(row.adrs_score)
            if row.adrs_score is not None
            else (f"fails: {row.adrs_error}" if row.python else "-")
        )
        native_text = _number(row.native_score) if row.native_score is not None else row.native_error
        if row.native_error and row.native_score is not None:
            native_text += f" ({row.native_error})"
        if row.stochastic:
            gap = abs(row.adrs_score - row.native_score) / max(abs(row.native_score), 1e-12)
            native_text += f", again {_number(row.native_again)} (stochastic; adrs {gap:.1%} from the first)"
        elif row.native_score is not None and row.adrs_score is not None:
            native_text += " (same)" if row.same_score else " (differs)"
        run = row.run + (f" ({_number(row.run_best)})" if row.run_best is not None else "")
        offline = "yes" if row.offline else ("no (needs the network)" if row.network else "no")
        cells = [row.folder, offline, row.check, adrs_text, native_text, run]
        out.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    offline = [r for r in rows if r.offline]
    unchanged = [r for r in offline if r.unchanged]
    stochastic = [r for r in offline if r.check == "ok" and r.stochastic and r.run.startswith("ok")]
    out.append("")
    out.append(
        f"{len(unchanged)} of {len(offline)} offline Python folders run unchanged (check passes, same initial score,"
        f" the run spends its budget); {len(stochastic)} more pass and run but their evaluator is stochastic;"
        f" {len(rows)} folders in all."
    )
    return "\n".join(out)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


if __name__ == "__main__":
    main()
