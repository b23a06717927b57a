"""OpenEvolve's example folders under adrs, unchanged: check, initial score against OpenEvolve's own, a short run.

    PY=/path/to/venv-with-adrs/bin/python     # adrs plus the packages the examples import
    OE=/path/to/openevolve-0.4.0-venv/bin/python
    nice $PY benchmarks/peer_folders.py OPENEVOLVE_CHECKOUT --native-python $OE --budget 30 --json out.json
    $PY benchmarks/peer_folders.py --from-json out.json      # the table again, from saved results

For every folder under OPENEVOLVE_CHECKOUT/examples that holds an evaluator.py (a checkout of
OpenEvolve's public repository; this script fetches nothing), copied first to a scratch folder:

1. `adrs check DIR` (its exit status and first error line);
2. the initial program's score under adrs (`adrs eval DIR INITIAL --json`, the last stage's score);
3. the same under OpenEvolve itself: its `Evaluator` with the folder's config.yaml (OpenEvolve's
   defaults without one) on the initial program, in the --native-python interpreter, working
   directory the folder, scored by its `get_fitness_score`; run a second time when the two differ,
   to tell a stochastic evaluator from a disagreement;
4. `adrs run DIR --budget N --mutator offline` (no LLM: the offline mutator proposes).

A folder "runs unchanged" when check passes, the initial scores agree (to 1e-9, relative) and the
run spends its budget. A folder is "offline Python" when its initial program is Python and
OpenEvolve's own evaluation of it succeeds here (no network, no GPU, no LLM judge).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

NATIVE = r"""
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
plain = {k: (v if isinstance(v, (int, float, str, bool)) and not (isinstance(v, float) and not math.isfinite(v)) else repr(v)) for k, v in metrics.items()}
print("NATIVE-RESULT " + json.dumps({"score": score if math.isfinite(score) else repr(score), "failed": failed, "metrics": plain}), flush=True)
os._exit(0)  # a timed-out evaluation's thread must not hold the interpreter open
"""


@dataclass
class Row:
    folder: str
    python: bool = True
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
        return self.python and self.native_score is not None and not self.native_error

    @property
    def same_score(self) -> bool:
        if self.adrs_score is None or self.native_score is None:
            return False
        return abs(self.adrs_score - self.native_score) <= 1e-9 * max(1.0, abs(self.native_score))

    @property
    def stochastic(self) -> bool:
        return self.native_again is not None and self.native_score is not None and self.native_again != self.native_score

    @property
    def unchanged(self) -> bool:
        return self.check == "ok" and self.same_score and self.run.startswith("ok")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", nargs="?", help="a checkout of OpenEvolve's repository")
    parser.add_argument("--native-python", help="python of a venv with openevolve==0.4.0")
    parser.add_argument("--budget", type=int, default=30, help="evaluations of each adrs run")
    parser.add_argument("--only", nargs="*", help="folders (relative to examples/) to run")
    parser.add_argument("--step-timeout", type=float, default=900.0, help="seconds for one step of one folder")
    parser.add_argument("--json", help="write every row here (also after each folder)")
    parser.add_argument("--from-json", help="render the table of saved rows and stop")
    args = parser.parse_args()
    if args.from_json:
        rows = [Row(**r) for r in json.loads(Path(args.from_json).read_text())]
        print(render(rows, args.budget))
        return
    if not args.checkout or not args.native_python:
        parser.error("give the checkout and --native-python (or --from-json)")
    examples = Path(args.checkout) / "examples"
    folders = sorted(p.parent for p in examples.rglob("evaluator.py"))
    if args.only:
        folders = [f for f in folders if str(f.relative_to(examples)) in args.only]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="adrs-peer-folders-") as scratch:
        for source in folders:
            name = str(source.relative_to(examples))
            target = Path(scratch) / name.replace("/", "__")
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "openevolve_output*"))
            row = measure(name, target, Path(scratch), args)
            rows.append(row)
            print(f"{name}: check {row.check[:60]!r}, adrs {row.adrs_score}, native {row.native_score}"
                  f" {row.native_error[:60]!r}, run {row.run[:60]!r}", file=sys.stderr, flush=True)
            if args.json:
                Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=1))
    print(render(rows, args.budget))


def measure(name: str, folder: Path, scratch: Path, args: argparse.Namespace) -> Row:
    row = Row(folder=name)
    initial = next((n for n in ("initial_program.py", "initial.py") if (folder / n).is_file()), None)
    if initial is None:
        row.python = False
        others = sorted(p.name for p in folder.glob("initial_program.*")) or ["no initial program"]
        row.check = row.run = f"not Python ({others[0]})"
        return row
    row.check = timed(row, "check", lambda: check(folder, args.step_timeout))
    row.adrs_score, row.adrs_error = timed(row, "adrs_eval", lambda: adrs_score(folder, initial, args.step_timeout))
    row.native_score, row.native_error = timed(row, "native", lambda: native_score(folder, initial, args))
    if row.native_score is not None and row.adrs_score is not None and not row.same_score:
        row.native_again, _ = timed(row, "native_again", lambda: native_score(folder, initial, args))
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
    return subprocess.run([sys.executable, "-m", "adrs.cli", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)


def check(folder: Path, timeout: float) -> str:
    try:
        done = adrs(["check", str(folder)], timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:g} s"
    if done.returncode == 0:
        return "ok"
    errors = [line for line in (done.stdout + done.stderr).splitlines() if "error" in line.lower()]
    return (errors[0] if errors else (done.stdout + done.stderr).strip().splitlines()[-1]).strip()[:300]


def adrs_score(folder: Path, initial: str, timeout: float) -> tuple[float | None, str]:
    try:
        done = adrs(["eval", str(folder), str(folder / initial), "--json"], timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:g} s"
    try:
        stages = json.loads(done.stdout)["stages"]
    except (ValueError, KeyError):
        return None, (done.stdout + done.stderr).strip().splitlines()[-1][:300] if (done.stdout + done.stderr).strip() else "no output"
    last = stages[-1]
    if not last["ok"]:
        return None, f"{last['error_kind']}: {last['error'].strip().splitlines()[-1][:250] if last['error'].strip() else ''}"
    return last["score"], ""


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
    if result["failed"]:
        stderr = [x for x in done.stderr.splitlines() if "Error" in x or "failed" in x]
        return float(result["score"]), f"OpenEvolve's evaluation failed: {(stderr[-1] if stderr else 'error metrics')[:250]}"
    return float(result["score"]), ""


def short_run(folder: Path, scratch: Path, args: argparse.Namespace) -> tuple[str, float | None]:
    archive = scratch / f"{folder.name}.sqlite"
    try:
        done = adrs(["run", str(folder), "--budget", str(args.budget), "--mutator", "offline", "--quiet", "--archive", str(archive)],
                    args.step_timeout * 4, cwd=scratch)  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"timed out after {args.step_timeout * 4:g} s", None
    if done.returncode != 0 or not archive.exists():
        tail = (done.stdout + done.stderr).strip().splitlines()
        return f"failed: {tail[-1][:200] if tail else 'no output'}", None
    with sqlite3.connect(archive) as db:
        evaluated = db.execute("select count(*) from programs where status in ('evaluated', 'failed') and migrated_from is null").fetchone()[0]
        failed = db.execute("select count(*) from programs where status = 'failed' and migrated_from is null").fetchone()[0]
        best = db.execute("select max(score) from programs where complete").fetchone()[0]
    stopped = next((x for x in done.stdout.splitlines() if x.startswith("Stopped:")), "")
    verdict = "ok" if evaluated >= args.budget else f"stopped early ({stopped.removeprefix('Stopped: ')[:80]})"
    return f"{verdict}: {evaluated} evals, {failed} failed", best


def render(rows: list[Row], budget: int) -> str:
    out = [
        f"| example folder | offline Python | adrs check | initial score: adrs | OpenEvolve 0.4.0 | run of {budget} evaluations (best) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        adrs_text = _number(row.adrs_score) if row.adrs_score is not None else f"fails: {row.adrs_error}"
        native_text = _number(row.native_score) if row.native_score is not None else row.native_error
        if row.native_error and row.native_score is not None:
            native_text += f" ({row.native_error})"
        if row.stochastic:
            native_text += f", again {_number(row.native_again)} (stochastic)"
        elif row.native_score is not None and row.adrs_score is not None:
            native_text += " (same)" if row.same_score else " (differs)"
        run = row.run + (f" ({_number(row.run_best)})" if row.run_best is not None else "")
        cells = [row.folder, "yes" if row.offline else "no", row.check, adrs_text, native_text, run]
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
