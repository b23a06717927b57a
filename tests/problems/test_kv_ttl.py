"""kv_ttl: agent workload, engine and mirror, baseline scores, rejected answers, closed loopholes.

Evaluations go through the real evaluator, harness and sandboxed candidate processes; the
engine-level checks run the trusted code in-process.
"""

from __future__ import annotations

import sqlite3
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from adrs.problem import load_problem
from adrs.problemkit import CandidateError
from evaluators.kv_ttl.anchors import LRU_MEAN_JCT_S, LruDecider, lru_mean_jct
from evaluators.kv_ttl.engine import AgentEngine
from evaluators.kv_ttl.episode import PolicySession, find_policy, run_local
from evaluators.kv_ttl.scoring import program_bound_s
from evaluators.kv_ttl.stages import SETUPS, STAGES
from evaluators.kv_ttl.workload import AgentSpec, generate, prompt_tokens
from tests.problems.helpers import load_module

PROBLEM = Path(__file__).resolve().parents[2] / "problems" / "kv_ttl"
BASELINES = PROBLEM / "baselines"
ADRS = [sys.executable, "-m", "adrs.cli"]

# Full-stage scores through the sandboxed evaluator (README, "Reference scores").
FULL_SCORES = {"vllm_lru": 0.0, "fixed_ttl": 6.100, "continuum": 19.218}


@pytest.fixture(scope="module")
def evaluator() -> ModuleType:
    return load_module(PROBLEM / "evaluator.py", "kv_ttl_evaluator")


def _evaluate(evaluator: ModuleType, program: Path, stage: str, tmp_path: Path) -> dict:
    workdir = tmp_path / f"work-{program.stem}-{stage}"
    workdir.mkdir(exist_ok=True)
    return evaluator.evaluate(str(program), stage=stage, workdir=str(workdir))


def _candidate(tmp_path: Path, source: str, name: str = "candidate.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


# --- workload ---------------------------------------------------------------------------------------


def test_swe_and_bfcl_programs_follow_the_stated_statistics():
    swe = generate(AgentSpec("t", 1, 300, 20)).programs
    assert 17 < statistics.fmean(len(p.turns) for p in swe) < 24
    finals = [prompt_tokens(p, len(p.turns) - 1) for p in swe]
    assert 25000 < statistics.fmean(finals) < 45000 and max(finals) < 100000 + 12000  # no turn past 100k
    tools = [t.tool_s for p in swe for t in p.turns if t.tool]
    assert 0.2 < statistics.median(tools) < 0.5 and 1.0 < statistics.fmean(tools) < 3.0
    assert all(p.turns[-1].tool is None and all(t.tool for t in p.turns[:-1]) for p in swe)
    bfcl = generate(AgentSpec("t", 1, 300, 20, "bfcl")).programs
    assert 3.5 < statistics.fmean(len(p.turns) for p in bfcl) < 5.5
    assert generate(AgentSpec("t", 1, 30, 5)).programs == generate(AgentSpec("t", 1, 30, 5)).programs


def test_workers_run_programs_back_to_back():
    spec = STAGES["quick"][0]
    trace = generate(spec)
    engine = AgentEngine(SETUPS[spec.setup], trace)
    outcome = engine.run(LruDecider())
    starts = sorted(engine.started)
    assert starts[: spec.concurrency] == [k * spec.stagger_s for k in range(spec.concurrency)]
    finishes = sorted(s + j for s, j in zip(engine.started, outcome.jct, strict=True))
    # every later start is some program's finish
    assert set(starts[spec.concurrency :]) <= set(finishes)
    assert all(outcome.finished)


# --- engine, bound and mirror -------------------------------------------------------------------------


def test_every_program_takes_at_least_its_bound():
    spec = STAGES["full"][0]
    trace = generate(spec)
    setup = SETUPS[spec.setup]
    outcome = AgentEngine(setup, trace).run(LruDecider())
    for program, jct in zip(trace.programs, outcome.jct, strict=True):
        assert jct >= program_bound_s(setup, program) - 1e-9


def test_a_mirror_fed_only_the_facts_of_a_session_asks_the_same_questions_as_the_whole_trace():
    """The candidate's mirror, fed message by message what the trusted run records, reaches every
    question in the same state: it answers exactly as the policy run on the whole trace."""
    spec = STAGES["quick"][0]
    trace = generate(spec)
    policy = find_policy(load_module(BASELINES / "continuum.py", "continuum_inproc"))

    class Link:
        facts: dict = {}

        def add(self, kind, fact):
            self.facts.setdefault(kind, []).append(fact)

    link = Link()
    whole = PolicySession(policy, spec.setup, trace.concurrency, trace.stagger_s, 0, whole=trace, record=link)
    mirror = PolicySession(policy, spec.setup, trace.concurrency, trace.stagger_s, 0)
    steps = whole.engine.steps()
    answer, asked, hidden = None, 0, 0
    try:
        while True:
            question = steps.send(answer)
            answer, _ = whole._decide(question)
            wire = mirror._wire(question)
            if wire is None:
                continue
            message = {"q": wire, **link.facts}
            link.facts = {}
            assert mirror.loop.handle(message) == answer, question
            asked += 1
            programs = mirror.engine.programs
            assert len(programs) <= len(trace.programs)
            assert len(programs[wire[1]].turns) == wire[2] + 1  # none of the program's later turns is there
            hidden += sum(1 for program in programs for t in program.turns if t.tool is not None and t.tool_s is None)
    except StopIteration as stop:
        outcome = stop.value
    assert outcome.jct == run_local(policy, trace).jct
    assert asked > 500 and hidden > 0  # running tool calls' durations were never there


def test_a_pin_keeps_the_context_for_the_next_turn():
    spec = AgentSpec("t", 3, 30, 30)
    trace = generate(spec)
    setup = SETUPS[spec.setup]

    class Pin(LruDecider):
        def ttl(self, job, now):
            self.calls += 1
            return 600.0

    lru = AgentEngine(setup, trace).run(LruDecider())
    pinned = AgentEngine(setup, trace).run(Pin())
    assert pinned.recomputed_tokens <= lru.recomputed_tokens
    assert pinned.pinned_calls == pinned.tool_calls > 0


def test_pinned_anchor_is_vllm_lru_recomputed():
    spec = STAGES["quick"][0]
    assert lru_mean_jct(spec) == pytest.approx(LRU_MEAN_JCT_S[spec.name], abs=1e-9)


# --- scores through the sandboxed evaluator --------------------------------------------------------------


@pytest.fixture(scope="module")
def full_scores(evaluator, tmp_path_factory) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("kv_ttl_full")
    return {name: _evaluate(evaluator, BASELINES / f"{name}.py", "full", tmp) for name in FULL_SCORES}


def test_baseline_scores_on_the_full_stage(full_scores):
    for name, expected in FULL_SCORES.items():
        assert full_scores[name]["score"] == pytest.approx(expected, abs=0.01), name


def test_continuum_lowers_job_completion_time_as_the_paper_claims(full_scores):
    ratio = full_scores["continuum"]["metrics"]["jct_vs_lru"]
    assert ratio < 1 / 1.12  # the paper's smallest reported gain is 1.12x
    metrics = full_scores["continuum"]["metrics"]
    assert metrics["swe_a_jct_s"] < LRU_MEAN_JCT_S["swe/a"] / 1.3
    assert metrics["recompute_ratio"] < full_scores["vllm_lru"]["metrics"]["recompute_ratio"]


# --- rejected answers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ttl", "priority", "expected"),
    [
        ("-1.0", "request.arrival", "ttl returned -1.0; expected seconds in [0, 600]"),
        ("601", "request.arrival", "ttl returned 601.0; expected seconds in [0, 600]"),
        ("'long'", "request.arrival", "ttl returned 'long' (str); expected a number"),
        ("float('nan')", "request.arrival", "ttl returned nan (float); expected a finite number"),
        ("True", "request.arrival", "ttl returned True (bool); expected a number"),
        ("0.0", "'first'", "priority returned 'first' (str); expected a number"),
        ("0.0", "float('inf')", "priority returned inf (float); expected a finite number"),
    ],
)
def test_invalid_answers_fail_the_evaluation_with_a_reason(evaluator, tmp_path, ttl, priority, expected):
    program = _candidate(
        tmp_path,
        f"""
        class Policy:
            def __init__(self, engine):
                pass

            def priority(self, request, engine):
                return {priority}

            def ttl(self, turn, engine):
                return {ttl}
    """,
    )
    with pytest.raises(CandidateError) as error:
        _evaluate(evaluator, program, "quick", tmp_path)
    assert error.value.kind == "invalid_output"
    assert expected in error.value.message and "swe/quick" in error.value.message


def test_a_raising_policy_and_a_missing_class_are_explained(evaluator, tmp_path):
    raising = _candidate(
        tmp_path,
        """
        class Policy:
            def __init__(self, engine):
                pass

            def ttl(self, turn, engine):
                raise KeyError(turn.tool)
    """,
    )
    with pytest.raises(CandidateError) as error:
        _evaluate(evaluator, raising, "quick", tmp_path)
    assert error.value.kind == "exception" and "ttl raised at question" in error.value.message
    missing = _candidate(tmp_path, "def ttl(turn, engine):\n    return 0.0\n", "missing.py")
    with pytest.raises(CandidateError, match="no class Policy"):
        _evaluate(evaluator, missing, "quick", tmp_path)


# --- closed loopholes ----------------------------------------------------------------------------------------

PEEKER = """
    import gc

    AHEAD = {ahead}

    class Policy:
        def __init__(self, engine):
            self.questions = 0
            self.found = 0

        def ttl(self, turn, engine):
            self.questions += 1
            if self.questions % 40 == 0:
                self.look(turn)
            return 2.0 if turn.tool in ("view", "search", "edit", "lookup", "compute") else 0.0

        def look(self, turn):
            for program in gc.get_objects():  # a program of the trace: the old Program or the mirror's
                if type(program).__name__ not in ("Program", "MirrorProgram") or program.pid != turn.program:
                    continue
                self.found += 1
                if len(program.turns) >= turn.turn + 1 + AHEAD:
                    raise RuntimeError(f"PEEKED {{AHEAD}} turns ahead of turn {{turn.turn}}")
                if program.turns[turn.turn].tool_s is not None:
                    raise RuntimeError("PEEKED the duration of the tool call starting now")
            if self.questions >= 400 and not self.found:
                raise RuntimeError("the search never found the programs it should look through")
"""


@pytest.mark.parametrize("ahead", [1, 2, 3])
def test_a_policy_peeking_ahead_finds_no_future_to_peek_at(evaluator, tmp_path, ahead):
    # The whole trace used to sit in the candidate's process (a probe twin caught a peek only when
    # it changed an answer); a session now sends a turn when it arrives, a tool call's duration
    # when it returns and a program when a worker takes it.
    peeker = _candidate(tmp_path, PEEKER.format(ahead=ahead), f"peek_{ahead}.py")
    result = _evaluate(evaluator, peeker, "quick", tmp_path)  # no "PEEKED" failure
    honest = _candidate(tmp_path, PEEKER.format(ahead=ahead).replace("self.look(turn)", "pass"), "honest.py")
    assert result["score"] == _evaluate(evaluator, honest, "quick", tmp_path)["score"]


def test_the_old_oracle_finds_no_tool_duration_and_fails_cleanly(evaluator, tmp_path):
    oracle = _candidate(
        tmp_path,
        """
        import gc

        class Policy:
            def __init__(self, engine):
                self.engine = None

            def ttl(self, turn, engine):
                if self.engine is None:  # the engine this process runs
                    self.engine = next(o for o in gc.get_objects() if type(o).__name__ == "AgentEngine")
                step = self.engine.programs[turn.program].turns[turn.turn]
                return min(engine.max_ttl_s, step.tool_s * 1.01)  # the call's true duration, were it there
    """,
    )
    with pytest.raises(CandidateError) as error:
        _evaluate(evaluator, oracle, "quick", tmp_path)
    assert error.value.kind == "exception" and "NoneType" in error.value.message


def test_tampering_with_the_engine_in_the_candidate_process_gains_nothing(evaluator, tmp_path):
    honest = _evaluate(evaluator, BASELINES / "fixed_ttl.py", "quick", tmp_path)["score"]
    source = (BASELINES / "fixed_ttl.py").read_text() + textwrap.dedent("""
        from evaluators.llm_serving.prefix_cache import PrefixCache
        PrefixCache.admit = lambda self, blocks, private: len(blocks)  # everything hits, nothing is held
    """)
    try:
        tampered = _evaluate(evaluator, _candidate(tmp_path, source, "tampered.py"), "quick", tmp_path)["score"]
    except CandidateError as error:  # the broken engine crashes its own process, or its log does not replay
        assert error.kind in ("exception", "invalid_output")
    else:
        assert tampered <= honest


# --- the problem directory and an offline run -------------------------------------------------------------------


def test_problem_directory_loads_with_its_stages():
    problem = load_problem(PROBLEM)
    assert [s.name for s in problem.stages] == ["quick", "full", "holdout"]
    assert "EVOLVE-BLOCK-START" in (PROBLEM / "initial.py").read_text()
    assert sorted(p.name for p in problem.baselines()) == ["continuum.py", "fixed_ttl.py", "vllm_lru.py"]


@pytest.mark.slow
def test_an_offline_run_of_100_evaluations_improves_on_the_initial_program(tmp_path):
    archive = tmp_path / "kv_ttl.sqlite"
    done = subprocess.run(
        ADRS
        + [
            "run",
            str(PROBLEM),
            "--budget",
            "100",
            "--quiet",
            "--mutator",
            "offline",
            "--seed",
            "0",
            "--archive",
            str(archive),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with sqlite3.connect(archive) as db:
        initial = db.execute("SELECT score FROM programs WHERE mutator = 'initial'").fetchone()[0]
        best = db.execute("SELECT max(score) FROM programs WHERE complete").fetchone()[0]
    assert best > initial + 1.0
