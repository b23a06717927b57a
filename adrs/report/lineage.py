"""The lineage of a run's best program: from the initial program to it, step by step.

Owns `lineage_of` (each step's program, the migrant copies folded into a note on the next step,
the scores of its siblings), `add_child` (how children are counted: a copy's children as its
original's; copies are no children) and `origin_of` (the program a migrant copy stands for). The
report (data.py) and the live view (adrs/serve) both use them, so they count alike.

Must not: read the archive (the caller passes the programs), draw or write HTML.
"""

from __future__ import annotations

from dataclasses import dataclass

from adrs.archive.records import ProgramRecord, ProgramStatus


@dataclass(frozen=True)
class LineageStep:
    program_id: int
    score: float | None
    complete: bool
    island: int
    mutator: str
    description: str
    note: str = ""  # e.g. how the lineage moved between islands
    sibling_scores: tuple[float, ...] = ()  # other scored children of this step's parent
    failed_siblings: int = 0


def origin_of(by_id: dict[int, ProgramRecord], program_id: int) -> int:
    """The program a migrant copy stands for (a program that is no copy stands for itself)."""
    program = by_id.get(program_id)
    return program_id if program is None else (program.migrated_from or program_id)


def add_child(children: dict[int, list[ProgramRecord]], by_id: dict[int, ProgramRecord], p: ProgramRecord) -> None:
    """Count `p` among its parent's children (a copy's children count as its original's; copies are no children)."""
    if p.parent_id is not None and p.migrated_from is None:
        children.setdefault(origin_of(by_id, p.parent_id), []).append(p)


def lineage_of(
    by_id: dict[int, ProgramRecord], best_id: int | None, children: dict[int, list[ProgramRecord]] | None = None
) -> list[LineageStep]:
    """From the initial program to the best, migrant copies folded into a note on the next step.

    `children`: each program's children as add_child counts them, where the caller keeps them (a live
    view adds each program once); read from `by_id` otherwise."""
    if best_id is None:
        return []
    if children is None:
        children = {}
        for p in by_id.values():
            add_child(children, by_id, p)
    chain: list[ProgramRecord] = []
    notes: dict[int, str] = {}
    current: ProgramRecord | None = by_id.get(best_id)
    seen: set[int] = set()
    while current is not None and current.id not in seen:
        seen.add(current.id)
        if current.migrated_from is not None:
            if chain:
                notes[chain[-1].id] = (
                    f"parent migrated from island {by_id[current.migrated_from].island} to {current.island}"
                )
            current = by_id.get(current.migrated_from)
            continue
        chain.append(current)
        current = by_id.get(current.parent_id) if current.parent_id is not None else None
    chain.reverse()
    steps = []
    for p in chain:
        parent = origin_of(by_id, p.parent_id) if p.parent_id is not None else None
        siblings = [c for c in children.get(parent, []) if c.id != p.id] if parent is not None else []
        steps.append(
            LineageStep(
                program_id=p.id,
                score=p.score,
                complete=p.complete,
                island=p.island,
                mutator=p.mutator,
                description=p.description,
                note=notes.get(p.id, ""),
                sibling_scores=tuple(
                    c.score for c in siblings if c.status == ProgramStatus.EVALUATED and c.score is not None
                ),
                failed_siblings=sum(1 for c in siblings if c.status == ProgramStatus.FAILED),
            )
        )
    return steps
