"""Per-evaluation cost of container-format folders against adrs's own folder on the process backend.

    DOCKER_HOST=unix:///... python benchmarks/container_formats.py [--repeats 10]

One trivial problem, four ways (median seconds of one whole `evaluate_stage`, as the engine pays
it, after one warm-up that also builds the images):
- `adrs/process`: an adrs problem folder (problem.toml, evaluator.py, driver.py) fitting y = 2x + 1
  on x = 0..3, the candidate run through the harness under the `process` backend;
- `adrs/docker`: the same folder, the candidate process in a container of the offline image;
- `container`: tests/container_folders/sky_fit, the same fit as a SkyDiscover container benchmark
  (a fresh container per evaluation, evaluate.sh and the candidate inside it);
- `harbor`: tests/container_folders/harbor_sched, a Harbor task of the same size.
The load average (1 minute) is printed before and after: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from adrs import sandbox
from adrs.api.problems import require_sandbox
from adrs.evaluate.runner import EvalSettings, evaluate_stage
from adrs.problem import load_problem

FOLDERS = Path(__file__).resolve().parents[1] / "tests" / "container_folders"
PROBLEM_TOML = '[problem]\nname = "fit"\n\n[[stages]]\nname = "train"\ntimeout_s = 60\n'
INITIAL = "# EVOLVE-BLOCK-START\ndef predict(x):\n    return 1.0 + 0.5 * x\n# EVOLVE-BLOCK-END\n"
DRIVER = "def run(candidate, payload):\n    return [float(candidate.predict(x)) for x in payload]\n"
EVALUATOR = """from pathlib import Path

from adrs.problemkit import run_candidate


def evaluate(program_path):
    xs = [0, 1, 2, 3]
    predictions = run_candidate(program_path, Path(__file__).with_name("driver.py"), xs).raise_for_failure()
    mse = sum((p - (2 * x + 1)) ** 2 for p, x in zip(predictions, xs)) / len(xs)
    return {"score": 1.0 / (1.0 + mse), "mse": mse}
"""


def _adrs_folder(work: Path) -> Path:
    folder = work / "fit"
    folder.mkdir()
    files = {"problem.toml": PROBLEM_TOML, "initial.py": INITIAL, "driver.py": DRIVER, "evaluator.py": EVALUATOR}
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def _median_s(directory: Path, sandbox_name: str | None, repeats: int) -> tuple[float, float]:
    problem = load_problem(directory)
    require_sandbox(problem, sandbox_name)
    stage = problem.evolution_stages[0]
    settings = EvalSettings(sandbox=sandbox_name)
    program = directory.parent / f"{directory.name}-program.py"
    program.write_text(problem.initial_code())
    samples, score = [], None
    for index in range(repeats + 1):  # the first is a warm-up
        began = time.perf_counter()
        evaluation = asyncio.run(evaluate_stage(problem, program, stage, settings))
        if index:
            samples.append(time.perf_counter() - began)
        if not evaluation.ok:
            raise SystemExit(f"{directory.name}: {evaluation.error}")
        score = evaluation.score
    return statistics.median(samples), score


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    reason = sandbox.get("docker").unavailable_reason()
    if reason is not None:
        print(f"docker unavailable: {reason}")
        return 1
    work = Path(tempfile.mkdtemp(prefix="adrs-bench-containers-"))
    try:
        adrs_fit = _adrs_folder(work)
        sky_fit, harbor = (shutil.copytree(FOLDERS / n, work / n) for n in ("sky_fit", "harbor_sched"))
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        rows = [
            ("adrs/process", adrs_fit, "process"),
            ("adrs/docker", adrs_fit, "docker"),
            ("container", Path(sky_fit), None),
            ("harbor", Path(harbor), None),
        ]
        print(f"{'way':14} {'median s':>9} {'score':>9}   (median of {args.repeats} evaluate_stage calls)")
        for label, directory, backend in rows:
            median, score = _median_s(directory, backend, args.repeats)
            print(f"{label:14} {median:9.3f} {score:9.6f}")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
