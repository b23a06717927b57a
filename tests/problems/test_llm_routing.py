"""llm_routing: workload, simulator and mirror, baseline scores, rejected answers, closed loopholes.

Evaluations go through the real evaluator, harness and sandboxed candidate processes; the
simulator-level checks run the trusted code in-process.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from adrs.problem import load_problem
from adrs.problemkit import CandidateError
from evaluators.llm_routing.anchors import ROUND_ROBIN_ATTAINMENT, round_robin_attainment
from evaluators.llm_routing.cluster import Cluster
from evaluators.llm_routing.episode import RouterSession, find_router, run_local
from evaluators.llm_routing.stages import LAYOUTS, STAGES
from evaluators.llm_routing.workload import generate, ideal_hit_ratio
from tests.problems.helpers import load_module

PROBLEM = Path(__file__).resolve().parents[2] / "problems" / "llm_routing"
BASELINES = PROBLEM / "baselines"
ADRS = [sys.executable, "-m", "adrs.cli"]

# Full-stage scores through the sandboxed evaluator (README, "Reference scores").
FULL_SCORES = {
    "round_robin": 0.0,
    "least_loaded": 3.663,
    "consistent_hash": 19.293,
    "dualmap": 52.568,
}


@pytest.fixture(scope="module")
def evaluator() -> ModuleType:
    return load_module(PROBLEM / "evaluator.py", "llm_routing_evaluator")


def _evaluate(evaluator: ModuleType, program: Path, stage: str, tmp_path: Path) -> dict:
    workdir = tmp_path / f"work-{program.stem}-{stage}"
    workdir.mkdir(exist_ok=True)
    return evaluator.evaluate(str(program), stage=stage, workdir=str(workdir))


def _candidate(tmp_path: Path, source: str, name: str = "candidate.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return path


def _module(path: Path, name: str) -> ModuleType:
    return load_module(path, name)


# --- workload -------------------------------------------------------------------------------------


def test_traces_are_seeded_and_follow_the_stated_statistics():
    item = STAGES["full"][0]
    first, second = generate(item.spec), generate(item.spec)
    assert first.arrival == second.arrival and first.blocks == second.blocks
    assert len(first) == 1421
    mean_prompt = sum(first.prompt_tokens) / len(first)
    mean_output = sum(first.output_tokens) / len(first)
    assert 6000 < mean_prompt < 9000 and 200 < mean_output < 320
    assert 0.5 < ideal_hit_ratio(first) < 0.65
    assert all(len(blocks) == tokens // 512 for blocks, tokens in zip(first.blocks, first.prompt_tokens, strict=True))


def test_load_levels_compress_one_trace_that_extends_the_lighter_ones():
    low, mid = (generate(item.spec) for item in STAGES["full"][:2])
    assert len(mid) > len(low)
    # the heavier level's first sessions are the lighter level's, compressed 1.1 / 0.9
    assert mid.prompt_tokens[:50] == low.prompt_tokens[:50]
    assert mid.arrival[10] == pytest.approx(low.arrival[10] * 0.9 / 1.1, rel=1e-5)


def test_multi_region_load_is_diurnal_per_region_and_flat_overall():
    trace = generate(STAGES["full"][3].spec)
    duration = trace.spec.duration_s
    thirds = [[0, 0, 0] for _ in range(3)]
    for t, region in zip(trace.arrival, trace.region, strict=True):
        thirds[min(2, int(3 * t / duration))][region] += 1
    per_third = [sum(row) for row in thirds]
    assert max(per_third) < 1.6 * min(per_third)
    us_east = [row[0] for row in thirds]
    assert us_east[0] > 1.5 * us_east[1]  # its peak is at the start of the compressed day (expected 2.5x)


# --- simulator and mirror ---------------------------------------------------------------------------


def test_a_mirror_fed_only_the_facts_of_a_session_asks_the_same_questions_as_the_whole_trace():
    """The candidate's mirror, fed message by message what the trusted run records, reaches every
    question in the same state: it answers exactly as the policy run on the whole trace."""
    item = STAGES["full"][0]
    trace = generate(item.spec)
    router = find_router(_module(BASELINES / "dualmap.py", "dualmap_inproc"))

    class Link:
        facts: dict = {}
        most_arrivals = 0

        def add(self, kind, fact):
            self.facts.setdefault(kind, []).append(fact)

        def answer(self, question, local):
            message = {"q": question, **self.facts}
            self.facts = {}
            reply = mirror.loop.handle(message)
            assert reply == local, (question, reply, local)
            assert len(mirror.trace.arrival) <= len(whole.trace.arrival)
            assert max(mirror.trace.arrival) <= question[-1]  # no arrival after the question exists there
            return local

    link = Link()
    whole = RouterSession(router, item.layout, 0, whole=trace, record=link)
    mirror = RouterSession(router, item.layout, 0)

    class Checked:
        calls = 0

        def route(self, job, now):
            return link.answer(["r", job.rid, now], whole.route(job, now))

        def rebalance(self, now):
            moves = whole.rebalance(now)
            return [tuple(m) for m in link.answer(["b", now], [list(m) for m in moves])]

    outcome = whole.cluster.run(Checked())
    assert outcome.first_token == run_local(router, item.layout, trace).first_token
    assert mirror.loop.questions > 1000
    assert -1 not in mirror.trace.output_tokens[:100]  # admitted long ago: their lengths were sent


def test_prefix_cache_hits_and_the_cost_of_a_cold_prompt():
    item = STAGES["full"][0]
    trace = generate(item.spec)
    outcome = Cluster(LAYOUTS[item.layout], trace).run(_AllToZero())
    assert outcome.cached_tokens[0] == 0  # the first prompt is cold
    # a session's next turn on the same instance reuses at least its previous prompt's blocks,
    # unless LRU evicted them in between (8 instances' worth of traffic on one cache)
    first, later = next(
        (i, j)
        for i in range(len(trace))
        for j in range(i + 1, min(len(trace), i + 40))
        if trace.session[j] == trace.session[i]
    )
    assert trace.blocks[later][: len(trace.blocks[first])] == trace.blocks[first]
    assert outcome.cached_tokens[later] >= len(trace.blocks[first]) * 512


class _AllToZero:
    calls = 0

    def route(self, job, now):
        self.calls += 1
        return 0

    def rebalance(self, now):
        self.calls += 1
        return []


@pytest.mark.parametrize("name", ["single/low", "multi/day1"])
def test_pinned_anchors_are_round_robin_recomputed(name):
    item = next(i for items in STAGES.values() for i in items if i.spec.name == name)
    assert round_robin_attainment(item) == pytest.approx(ROUND_ROBIN_ATTAINMENT[name], abs=1e-12)


# --- scores through the sandboxed evaluator ---------------------------------------------------------


@pytest.fixture(scope="module")
def full_scores(evaluator, tmp_path_factory) -> dict[str, dict]:
    tmp = tmp_path_factory.mktemp("llm_routing_full")
    return {name: _evaluate(evaluator, BASELINES / f"{name}.py", "full", tmp) for name in FULL_SCORES}


def test_baseline_scores_on_the_full_stage(full_scores):
    for name, expected in FULL_SCORES.items():
        assert full_scores[name]["score"] == pytest.approx(expected, abs=0.01), name


def test_dualmap_beats_the_simple_baselines_in_its_own_setting(full_scores):
    single = {name: result["metrics"]["single_region_score"] for name, result in full_scores.items()}
    assert single["dualmap"] > 3 * max(single["least_loaded"], single["consistent_hash"])
    attainment = full_scores["dualmap"]["metrics"]["single_high_attainment"]
    assert attainment > 1.5 * full_scores["round_robin"]["metrics"]["single_high_attainment"]


def test_skywalker_beats_region_local_routing_across_regions(evaluator, full_scores, tmp_path):
    skywalker = _evaluate(evaluator, BASELINES / "skywalker.py", "full", tmp_path)
    assert skywalker["metrics"]["forwarded_share"] > 0
    local_best = max(r["metrics"]["multi_region_score"] for r in full_scores.values())
    assert skywalker["metrics"]["multi_region_score"] > local_best + 30


# --- rejected answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("return 8", "route returned 8 (int); expected an instance id in 0..7 or None"),
        ("return -1", "route returned -1 (int)"),
        ("return 'a'", "route returned 'a' (str)"),
        ("return True", "route returned True (bool)"),
        ("return 1.0", "route returned 1.0 (float)"),
    ],
)
def test_invalid_route_answers_fail_the_evaluation_with_a_reason(evaluator, tmp_path, answer, expected):
    program = _candidate(
        tmp_path,
        f"""
        class Router:
            def __init__(self, cluster):
                pass

            def route(self, request, cluster):
                {answer}
    """,
    )
    with pytest.raises(CandidateError) as error:
        _evaluate(evaluator, program, "single_region", tmp_path)
    assert error.value.kind == "invalid_output"
    assert expected in error.value.message and "single/" in error.value.message


def test_moving_a_request_that_is_not_queued_is_rejected(evaluator, tmp_path):
    program = _candidate(
        tmp_path,
        """
        class Router:
            def __init__(self, cluster):
                pass

            def route(self, request, cluster):
                return 0

            def rebalance(self, cluster):
                return [(0, 1)]  # request 0 has long been admitted
    """,
    )
    with pytest.raises(CandidateError, match="rebalance moved request 0, which is not waiting") as error:
        _evaluate(evaluator, program, "single_region", tmp_path)
    assert error.value.kind == "invalid_output"


def test_a_raising_policy_is_an_exception_naming_trace_and_question(evaluator, tmp_path):
    program = _candidate(
        tmp_path,
        """
        class Router:
            def __init__(self, cluster):
                self.n = 0

            def route(self, request, cluster):
                self.n += 1
                if self.n == 5:
                    raise RuntimeError("boom")
                return 0
    """,
    )
    with pytest.raises(CandidateError) as error:
        _evaluate(evaluator, program, "single_region", tmp_path)
    assert error.value.kind == "exception"
    assert re.search(r"trace single/\w+: route raised at question \d+ \(t=", error.value.message)
    assert "RuntimeError: boom" in error.value.message


def test_a_program_without_router_is_explained(evaluator, tmp_path):
    program = _candidate(tmp_path, "def route(request, cluster):\n    return 0\n")
    with pytest.raises(CandidateError, match="no class Router"):
        _evaluate(evaluator, program, "single_region", tmp_path)


# --- closed loopholes ----------------------------------------------------------------------------------

PEEKER = """
    import gc

    AHEAD = {ahead}

    class Router:
        def __init__(self, cluster):
            self.questions = 0
            self.found = 0

        def route(self, request, cluster):
            self.questions += 1
            if self.questions % 150 == 0:
                self.look(request)
            return min(cluster.instances, key=lambda i: (i.waiting_tokens, i.running, i.id)).id  # least loaded

        def look(self, request):
            for found in gc.get_objects():
                if type(found) is list and found and type(found[0]) is float and request.arrival in found:
                    self.found += 1  # a list of arrival times: is the future in it?
                    later = [t for t in found if t > request.arrival][:AHEAD]
                    if len(later) == AHEAD:
                        raise RuntimeError(f"PEEKED {{AHEAD}} requests ahead: {{later}}")
                elif type(found).__name__ == "Job" and found.rid == request.id and found.output_tokens >= 0:
                    raise RuntimeError(f"PEEKED the output length of request {{request.id}}")  # not yet shown
            if self.questions >= 600 and not self.found:
                raise RuntimeError("the search never found the arrival times it should look through")
"""


@pytest.mark.parametrize("ahead", [1, 2, 3])
def test_a_policy_peeking_ahead_finds_no_future_to_peek_at(evaluator, tmp_path, ahead):
    # The whole trace used to sit in the candidate's process (probe twins caught a peek only when
    # it changed an answer); a session now sends a request when it arrives and an output length
    # when an instance first tries to admit the request.
    peeker = _candidate(tmp_path, PEEKER.format(ahead=ahead), name=f"peek_{ahead}.py")
    result = _evaluate(evaluator, peeker, "single_region", tmp_path)  # no "PEEKED" failure
    honest = _candidate(tmp_path, PEEKER.format(ahead=ahead).replace("self.look(request)", "pass"), "honest.py")
    assert result["score"] == _evaluate(evaluator, honest, "single_region", tmp_path)["score"]


def test_a_random_policy_is_reproducible(evaluator, tmp_path):
    program = _candidate(
        tmp_path,
        """
        import random

        class Router:
            def __init__(self, cluster):
                pass

            def route(self, request, cluster):
                local = [i.id for i in cluster.instances if i.region == request.region]
                return random.choice(local)
    """,
    )
    first = _evaluate(evaluator, program, "single_region", tmp_path)
    assert first["score"] == _evaluate(evaluator, program, "single_region", tmp_path)["score"]
    assert first["metrics"]["questions"] > 500


def test_tampering_with_the_simulator_in_the_candidate_process_gains_nothing(evaluator, tmp_path):
    """Making prefill free in the in-process simulator changes what the policy sees, not the score."""
    honest = _evaluate(evaluator, BASELINES / "least_loaded.py", "single_region", tmp_path)["score"]
    source = (BASELINES / "least_loaded.py").read_text() + textwrap.dedent("""
        from evaluators.llm_serving.model import ServingModel
        ServingModel.iteration_s = lambda self, decoding, context, prefill: 0.0001
    """)
    program = _candidate(tmp_path, source, "tampered.py")
    try:
        tampered = _evaluate(evaluator, program, "single_region", tmp_path)["score"]
    except CandidateError as error:
        assert error.kind == "invalid_output" and "diverged" in error.message
    else:
        assert tampered <= honest


def test_a_forged_answer_is_rejected(evaluator, tmp_path):
    """The candidate shares the driver's process: it can make the replies anything."""
    program = _candidate(
        tmp_path,
        """
        import evaluators.llm_routing.episode as episode

        class Router:
            def __init__(self, cluster):
                pass

            def route(self, request, cluster):
                return 0

        honest = episode.RouterSession._decide

        def forged(self, question):
            answer, reply = honest(self, question)
            return answer, "the best instance"

        episode.RouterSession._decide = forged
    """,
    )
    with pytest.raises(CandidateError) as error:
        _evaluate(evaluator, program, "single_region", tmp_path)
    assert error.value.kind == "invalid_output"
    assert "route answered 'the best instance', not an instance id" in error.value.message


# --- the problem directory and an offline run ------------------------------------------------------------


def test_problem_directory_loads_with_its_stages():
    problem = load_problem(PROBLEM)
    assert [s.name for s in problem.stages] == ["single_region", "full", "holdout"]
    assert [s.name for s in problem.evolution_stages] == ["single_region", "full"]
    assert "EVOLVE-BLOCK-START" in (PROBLEM / "initial.py").read_text()
    names = sorted(p.name for p in problem.baselines())
    assert names == ["consistent_hash.py", "dualmap.py", "least_loaded.py", "round_robin.py", "skywalker.py"]


@pytest.mark.slow
def test_an_offline_run_of_100_evaluations_improves_on_the_initial_program(tmp_path):
    archive = tmp_path / "llm_routing.sqlite"
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
