"""Plateau exits: which small edits of a stuck program lift its score, scored on a real stage.

    .venv/bin/python benchmarks/plateau_exits.py problems/cant_be_late --stage quick \
        --program best.py --guards 400

A search strategy can only choose among the children its operators can make. When a run stops
improving, this tells whether anything nearby is better, and how far: it scores (through the
real evaluation path, the same sandbox and stage as a run) three neighbourhoods of a program:

- every single edit of the offline mutator (adrs/mutate/offline/neighbours.py: the list the
  adaptive search's stall sweep walks);
- every pair of single edits coupled by data flow: one edit inside the value of an assignment
  to a name, the other inside a test, value or return that reads that name (an exit made of two
  edits that are neutral or harmful alone is most often of this kind: cant_be_late's, see
  docs/benchmarks.md);
- every pair coupled by control flow: one edit inside an `if`/`while` test, the other inside the
  test of one nested under it (neighbours.py `control_pairs`: what the stall sweep tries first
  since adaptive v6; cant_be_late's exit from its initial program's 29.08 is one of them);
- with `--guards N`, N guards drawn (seeded) from every insertion of `if A < 1.0 * B: return R`
  (or `>`) the guard operator can make (adrs/mutate/offline/guards.py: escalated proposals of
  the adaptive search only): a new decision, which no other operator adds.

`--program FILE` scores a program file; `--archive PATH` the final best of the archive's last
run (as benchmarks/search_quality.py reports it). Prints the counts (neutral, gaining, best) per
neighbourhood (the four in the order above) and the best gaining edits; `--json` writes them. Nothing is stored.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import dataclasses
import itertools
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_quality import final_best_code  # noqa: E402

from adrs.archive.errors import ArchiveError  # noqa: E402
from adrs.evaluate.runner import EvalSettings, evaluate_code  # noqa: E402
from adrs.mutate.offline.guards import dotted, guard_edits  # noqa: E402
from adrs.mutate.offline.neighbours import control_pairs, single_edits  # noqa: E402
from adrs.mutate.offline.sites import Analysis  # noqa: E402
from adrs.mutate.offline.splices import Edit, apply_splices  # noqa: E402
from adrs.problem import Problem, load_problem  # noqa: E402


@dataclasses.dataclass(frozen=True)
class Site:
    """Where an edit lands: an assignment's value, a test or a returned value, and its names."""

    start: int
    end: int
    writes: frozenset[str]
    reads: frozenset[str]


def names_in(node: ast.AST) -> frozenset[str]:
    return frozenset(d for n in ast.walk(node) if (d := dotted(n)) is not None)


def sites(analysis: Analysis) -> list[Site]:
    found: list[Site] = []
    for node in ast.walk(analysis.tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            writes = frozenset().union(*(names_in(t) for t in targets))
            found.append(Site(*analysis.src.span(node.value), writes, names_in(node.value)))
        elif isinstance(node, ast.If | ast.While):
            found.append(Site(*analysis.src.span(node.test), frozenset(), names_in(node.test)))
        elif isinstance(node, ast.Return) and node.value is not None:
            found.append(Site(*analysis.src.span(node.value), frozenset(), names_in(node.value)))
    return found


def site_of(edit: Edit, found: list[Site]) -> Site | None:
    """The smallest site holding all of the edit's splices."""
    start, end = min(s.start for s in edit.splices), max(s.end for s in edit.splices)
    holding = [s for s in found if s.start <= start and end <= s.end]
    return min(holding, key=lambda s: s.end - s.start, default=None)


def coupled_pairs(analysis: Analysis, edits: list[Edit]) -> list[tuple[int, int]]:
    """Index pairs of edits at two different sites, one writing a name the other reads."""
    found = sites(analysis)
    where = [site_of(edit, found) for edit in edits]
    pairs = []
    for i, j in itertools.combinations(range(len(edits)), 2):
        a, b = where[i], where[j]
        if a is not None and b is not None and a != b and (a.writes & b.reads or b.writes & a.reads):
            pairs.append((i, j))
    return pairs


async def score_all(problem: Problem, codes: list[str], seed: int, workers: int) -> list[float | None]:
    gate = asyncio.Semaphore(workers)

    async def one(code: str) -> float | None:
        async with gate:
            evaluations = await evaluate_code(problem, code, EvalSettings(seed=seed), problem.evolution_stages)
        last = evaluations[-1]
        return last.score if last.ok else None

    return list(await asyncio.gather(*(one(code) for code in codes)))


def summary(name: str, base: float, children: list[tuple[str, float | None]]) -> dict:
    scored = [(s, d) for d, s in children if s is not None]
    gains = sorted(((s, d) for s, d in scored if s > base + 1e-9), key=lambda c: -c[0])
    return {
        "neighbourhood": name,
        "children": len(children),
        "failed": len(children) - len(scored),
        "neutral": sum(1 for s, _ in scored if abs(s - base) <= 1e-9),
        "gaining": len(gains),
        "best": max((s for s, _ in scored), default=None),
        "top": [{"score": s, "edit": d} for s, d in gains[:10]],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("problem")
    parser.add_argument("--stage", default=None, help="score on this stage only (default: the evolution cascade)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--program", type=Path)
    source.add_argument("--archive", type=Path)
    parser.add_argument("--guards", type=int, default=0, help="how many guard insertions to draw and score")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    problem = load_problem(args.problem)
    if args.stage:
        problem = dataclasses.replace(problem, stages=(problem.stage(args.stage),))
    try:
        code = args.program.read_text() if args.program else final_best_code(args.archive)
    except (OSError, ArchiveError) as error:
        raise SystemExit(f"plateau_exits: {error}") from None
    if code is None:
        raise SystemExit(f"{args.archive}: no complete program in its last run")
    analysis = Analysis.of(code)
    if analysis is None:
        raise SystemExit("the program does not parse")
    edits = [edit for _, edit in single_edits(analysis)]
    pairs = coupled_pairs(analysis, edits)
    controlled = control_pairs(analysis, edits)
    guards = guard_edits(analysis)
    drawn = random.Random(args.seed).sample(guards, min(args.guards, len(guards)))

    def paired(index_pairs: list[tuple[int, int]]) -> list[tuple[str, str]]:
        both = [(edits[i], edits[j]) for i, j in index_pairs]
        return [(f"{a.description} + {b.description}", apply_splices(code, a.splices + b.splices)) for a, b in both]

    groups: list[tuple[str, list[tuple[str, str]]]] = [  # (neighbourhood, [(description, child code)])
        ("single edits", [(e.description, apply_splices(code, e.splices)) for e in edits]),
        ("coupled pairs", paired(pairs)),
        ("control pairs", paired(controlled)),
        (f"guards (drawn of {len(guards)})", [(e.description, apply_splices(code, e.splices)) for e in drawn]),
    ]
    children = [child for _, group in groups for child in group]
    scores = asyncio.run(score_all(problem, [code] + [c for _, c in children], args.seed, args.workers))
    base, rest = scores[0], iter(scores[1:])
    if base is None:
        raise SystemExit("the program itself fails its evaluation")
    report = {
        "base": base,
        "guard_insertions": len(guards),
        "neighbourhoods": [
            summary(name, base, [(description, next(rest)) for description, _ in group]) for name, group in groups
        ],
    }
    print(f"base {base:.4f}")
    for n in report["neighbourhoods"]:
        best = "-" if n["best"] is None else f"{n['best']:.4f}"
        print(f"{n['neighbourhood']}: {n['children']} children, {n['failed']} failed, {n['neutral']} neutral, "
              f"{n['gaining']} gaining, best {best}")  # fmt: skip
        for top in n["top"][:5]:
            print(f"    {top['score']:.4f}  {top['edit']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
