"""Token-shingle novelty: near-copies are rejected and counted, real changes pass."""

from __future__ import annotations

from adrs.archive.novelty import NoveltyFilter, jaccard, shingles

PROGRAM = """
def place(models, gpus):
    order = sorted(models, key=lambda m: m.rate / m.slo, reverse=True)
    load = [0.0] * gpus
    for m in order:
        g = min(range(gpus), key=lambda i: load[i])
        load[g] += m.rate / m.slo
    return load
"""


def test_comments_and_layout_do_not_count():
    noisy = PROGRAM.replace("    load = [0.0] * gpus", "    # fresh loads\n    load = [0.0]   *   gpus")
    assert jaccard(shingles(PROGRAM), shingles(noisy)) == 1.0


def test_a_one_token_change_is_near_but_a_rewrite_is_far():
    tweak = PROGRAM.replace("reverse=True", "reverse=False")
    rewrite = "def place(models, gpus):\n    return [sum(m.rate for m in models[i::gpus]) for i in range(gpus)]\n"
    assert 0.7 < jaccard(shingles(PROGRAM), shingles(tweak)) < 1.0
    assert jaccard(shingles(PROGRAM), shingles(rewrite)) < 0.3


def _program(pid: int, island: int, code: str):
    from datetime import datetime

    from adrs.archive.store import ProgramRecord

    return ProgramRecord(
        id=pid,
        run_id=1,
        proposal_index=pid,
        code=code,
        code_hash=str(pid),
        parent_id=None,
        inspiration_ids=[],
        island=island,
        generation=0,
        mutator="offline",
        description="",
        diff="",
        status="evaluated",
        migrated_from=None,
        score=1.0,
        complete=True,
        stage_reached="full",
        error_kind=None,
        metrics={},
        features={},
        created_at=datetime.now(),
        evaluated_at=None,
    )


def test_filter_rejects_near_copies_of_island_members_and_counts_them():
    novelty = NoveltyFilter(threshold=0.7)
    island0 = [_program(1, 0, PROGRAM)]
    tweak = PROGRAM.replace("reverse=True", "reverse=False")
    assert not novelty.admits(0, tweak, island0)
    assert novelty.admits(1, tweak, [])  # another island keeps its own diversity
    assert novelty.admits(0, "def place(models, gpus):\n    return [0.0] * gpus\n", island0)
    assert novelty.rejected == 1
