"""A ShinkaEvolve folder (initial.py with EVOLVE-BLOCK markers, evaluate.py) as an adrs Problem.

Owns: checking the folder (evaluate.py defines main(program_path, results_dir); the initial
program's markers are well formed) and the one stage that calls main. ShinkaEvolve keeps its run
settings outside the folder (its launch scripts and Hydra configs), so there is nothing to read or
to warn about; the stage's timeout is SHINKA_TIMEOUT_S.

Must not: import evaluate.py (its names are read from its syntax tree).
"""

from __future__ import annotations

from pathlib import Path

from adrs.formats.detect import SHINKA_EVALUATOR
from adrs.formats.markers import check_markers
from adrs.formats.openevolve import defined_names
from adrs.formats.peer import SHINKA, PeerFolder
from adrs.problem import Objective, Problem, ProblemError, ProblemLimits, Stage

SHINKA_TIMEOUT_S = 600.0  # ShinkaEvolve sets none by default; a stuck evaluation must still end


def load_shinka(root: Path) -> Problem:
    evaluator = root / SHINKA_EVALUATOR
    initial = root / "initial.py"
    if not initial.is_file():
        raise ProblemError(f"{root}: missing initial.py (ShinkaEvolve's initial program; adrs evolves Python)")
    if "main" not in defined_names(evaluator):
        raise ProblemError(f"{evaluator}: defines no function main(program_path, results_dir)")
    check_markers(initial)
    return Problem(
        root=root,
        name=root.name,
        description="",
        initial_path=initial,
        evaluator_path=evaluator,
        objectives=(Objective("score", "max"),),
        features=(),
        stages=(Stage("full", timeout_s=SHINKA_TIMEOUT_S),),
        limits=ProblemLimits(),
        score_metric="combined_score",
        peer=PeerFolder(
            format=SHINKA,
            entry_points={"full": "main"},
            notes=("score: metrics.json's combined_score; correct.json false is a failed evaluation",),
        ),
    )
