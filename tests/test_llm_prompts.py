"""Prompt assembly: what the model is shown, the token budget (feedback cut first, then inspirations),
and per-problem template overrides."""

from __future__ import annotations

from datetime import UTC, datetime

from adrs.archive.store import ProgramRecord
from adrs.evaluate.result import Evaluation
from adrs.mutate.llm.history import Attempt
from adrs.mutate.llm.prompts import PromptBuilder, PromptInputs
from adrs.problem import load_problem

PARENT_CODE = '''"""Frozen header."""

# EVOLVE-BLOCK-START
def order_jobs(jobs):
    return sorted(range(len(jobs)), key=lambda i: jobs[i][0] * 1.0)
# EVOLVE-BLOCK-END
'''


def program(pid: int, score: float, code: str = PARENT_CODE, description: str = "") -> ProgramRecord:
    return ProgramRecord(
        id=pid,
        run_id=1,
        proposal_index=pid,
        code=code,
        code_hash=str(pid),
        parent_id=None,
        inspiration_ids=[],
        island=0,
        generation=0,
        mutator="llm:m",
        description=description,
        diff="",
        status="evaluated",
        migrated_from=None,
        score=score,
        complete=True,
        stage_reached="full",
        error_kind=None,
        metrics={"score": score, "weighted_completion": 1.25},
        features={},
        created_at=datetime.now(UTC),
        evaluated_at=None,
    )


def inputs(feedback: str = "worst instance 3 at 71%", inspirations: int = 2) -> PromptInputs:
    evaluations = [
        Evaluation("quick", True, 80.0, feedback="quick is fine"),
        Evaluation("full", True, 81.5, feedback=feedback),
    ]
    others = [
        program(10 + k, 90.0 + k, PARENT_CODE.replace("* 1.0", f"/ (jobs[i][1] + {k})"), f"idea {k}")
        for k in range(inspirations)
    ]
    attempts = [
        Attempt(5, "llm:m", "Idea: sort by weight", 7, 81.5, "score 60 (-21.5 vs its parent)"),
        Attempt(
            5, "llm:m", "Idea: reverse", None, None, "not applied (search_not_found): block 1 ...", "search_not_found"
        ),
    ]
    return PromptInputs(program(5, 81.5), evaluations, others, attempts, "diff", last_failure=attempts[1])


def test_the_prompt_shows_problem_parent_feedback_inspirations_attempts_and_format(toy_problem):
    prompt = PromptBuilder(load_problem(toy_problem), 16000).build(inputs())
    assert "Smith's rule" in prompt.system  # the problem's [prompt] system text
    user = prompt.user
    for part in (
        "Order jobs on one machine",  # description
        "- weighted_completion: lower is better",  # objectives
        "Program #5, score 81.5",
        "weighted_completion=1.25",
        "jobs[i][0] * 1.0",  # the parent's code
        "[stage full] worst instance 3 at 71%",  # feedback
        "Inspiration 1: program #10, score 90",
        "/ (jobs[i][1] + 1)",  # an inspiration's evolvable code
        "Idea: sort by weight -> score 60 (-21.5 vs its parent)",
        "<<<<<<< SEARCH",
        "could not be used (search_not_found)",
    ):
        assert part in user, part
    assert user.index("## Current program") < user.index("## Other programs") < user.index("## Your task")
    assert prompt.truncated == ()


def test_over_budget_feedback_is_cut_first_then_inspirations_dropped(toy_problem):
    long_feedback = "case detail line\n" * 2000
    builder = PromptBuilder(load_problem(toy_problem), 2500)
    prompt = builder.build(inputs(long_feedback))
    assert prompt.truncated == ("feedback",)
    assert "feedback cut to fit the prompt budget" in prompt.user
    assert "Inspiration 2" in prompt.user
    assert prompt.tokens <= 2500
    tight = PromptBuilder(load_problem(toy_problem), 800).build(inputs(long_feedback, inspirations=4))
    assert tight.truncated[0] == "feedback" and "inspiration" in tight.truncated
    assert "jobs[i][0] * 1.0" in tight.user  # the parent's code is never cut


def test_a_problem_can_override_any_template(toy_problem):
    (toy_problem / "prompts").mkdir()
    (toy_problem / "prompts" / "system.txt").write_text("You tune job schedulers. $problem_system")
    (toy_problem / "prompts" / "format_rewrite.txt").write_text("Return the whole file, please.")
    builder = PromptBuilder(load_problem(toy_problem), 16000)
    data = inputs()
    data.edit_format = "rewrite"
    prompt = builder.build(data)
    assert prompt.system.startswith("You tune job schedulers. Smith's rule")
    assert "Return the whole file, please." in prompt.user and "<<<<<<< SEARCH" not in prompt.user


def test_the_lineage_history_says_how_each_attempt_ended(tmp_path):
    from adrs.archive.store import Archive, NewProgram
    from adrs.mutate.llm.history import LineageHistory

    archive = Archive.open(tmp_path / "a.sqlite")
    run = archive.create_run("toy", str(tmp_path), "f", 0, {})
    parent = archive.add_program(run.id, NewProgram("p = 1\n", "h0", 0, "initial"))
    parent = archive.record_evaluations(parent.id, [Evaluation("full", True, 50.0)], True)
    better = archive.add_program(run.id, NewProgram("p = 2\n", "h1", 1, "llm:m", parent.id, description="Idea: two"))
    archive.record_evaluations(better.id, [Evaluation("full", True, 55.0)], True)
    broken = archive.add_program(run.id, NewProgram("p = 3\n", "h2", 2, "llm:m", parent.id, description="Idea: three"))
    error = "Traceback (most recent call last):\n  ...\nZeroDivisionError: division by zero\n"
    archive.record_evaluations(broken.id, [Evaluation.failure("full", "exception", error)], False)
    archive.add_event(
        run.id,
        "proposal_failed",
        {
            "parent_id": parent.id,
            "mutator": "llm:m",
            "summary": "Idea: four",
            "kind": "search_not_found",
            "error": "block 1 ...",
        },
    )
    history = LineageHistory()
    history.load(archive, run.id)
    outcomes = [(a.summary, a.outcome) for a in history.recent(archive, parent, 10)]
    assert outcomes == [
        ("Idea: four", "not applied (search_not_found): block 1 ..."),
        ("Idea: three", "failed at stage full (exception): ZeroDivisionError: division by zero"),
        ("Idea: two", "score 55 (+5 vs its parent)"),
    ]
    assert history.last_failure(parent.id).failure_kind == "search_not_found"
    archive.close()
