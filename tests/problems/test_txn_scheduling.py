"""txn_scheduling: the makespan model, fidelity on the real workloads, and the trust rules.

Candidates run for real (sandboxed subprocesses through the harness); the evaluator is trusted
code and is loaded in-process. The makespan model is checked against a literal transcription of
the spec's per-key lock lists (shared/problems/txn_scheduling.md).
"""

from __future__ import annotations

import importlib.util
import random
import textwrap
import time
from pathlib import Path

import pytest

from adrs.problemkit import CandidateError
from evaluators.txn_scheduling import (
    QUICK_BUDGET,
    generate_set,
    load_real_set,
    makespan,
    parse_workload,
    stage_plan,
    synthetic_set,
)
from evaluators.txn_scheduling.simulator import BudgetExhausted, budgeted_workload

PROBLEM = Path(__file__).resolve().parents[2] / "problems" / "txn_scheduling"


@pytest.fixture(scope="module")
def evaluator():
    spec = importlib.util.spec_from_file_location("txn_scheduling_evaluator", PROBLEM / "evaluator.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_eval(evaluator, program: Path, tmp_path: Path, stage: str = "quick", data_dir=None) -> dict:
    workdir = tmp_path / f"work-{stage}-{program.stem}-{time.monotonic_ns()}"
    workdir.mkdir()
    return evaluator.evaluate(str(program), stage=stage, workdir=str(workdir), data_dir=data_dir)


def write_program(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def literal_makespan(ops: list[str], seq: list[int]) -> int:
    """The spec's model, transcribed literally: per-key lists of (type, time) lock entries."""
    txns = []
    for text in ops:
        tokens = text.split(" ")
        txns.append(([(tok[0], tok[2:], p) for p, tok in enumerate(tokens, start=1) if tok != "*"], len(tokens)))
    table: dict[str, list[tuple[str, int]]] = {}
    span = 0
    for t in seq:
        keyed, length = txns[t]
        start = 1
        for kind, key, position in keyed:
            entries = table.get(key)
            if not entries:
                continue
            last_kind, last_time = entries[-1]
            if last_kind == "w" or kind == "w":
                required = last_time + 1
            else:
                writes = [time_ for kind_, time_ in reversed(entries) if kind_ == "w"]
                if not writes:
                    continue
                required = writes[0] + 1
            start = max(start, required - position + 1)
        span = max(span, start + length - 1)
        for kind, key, position in keyed:
            entries = table.setdefault(key, [])
            at = start + position - 1
            index = len(entries)
            while index > 0 and entries[index - 1][1] > at:  # after every entry with time <= at
                index -= 1
            entries.insert(index, (kind, at))
    return span


# --- the makespan model -------------------------------------------------------------------------


def test_makespan_matches_the_literal_model_on_orders_prefixes_and_repeats():
    rng = random.Random(7)
    hand_made = ["w-a r-a *", "r-a w-a", "r-a * r-b", "r-b", "w-b * * r-a", "* r-c w-c *", "r-c r-a"]
    workloads = [ops for _, ops in generate_set(5)] + [hand_made]
    for ops in workloads:
        parsed = parse_workload(ops)
        n = len(ops)
        for _ in range(60):
            seq = list(range(n))
            rng.shuffle(seq)
            seq = seq[: rng.randint(1, n)]
            if rng.random() < 0.3:
                seq += [rng.randrange(n) for _ in range(3)]  # repeats are legal prefixes for the original
            assert makespan(parsed, seq) == literal_makespan(ops, seq)


def test_reads_share_and_writes_serialise():
    parsed = parse_workload(["r-x *", "r-x *", "w-x", "r-x"])
    assert makespan(parsed, [0, 1]) == 2  # two readers overlap
    assert makespan(parsed, [0, 2]) == 2  # the write waits for the read at time 1: runs at 2
    assert makespan(parsed, [2, 3]) == 2  # the read waits for the write at time 1
    assert parsed.lower_bound() == 2


def test_parse_rejects_malformed_workloads():
    for bad in (["r-1  w-2"], ["x-1"], ["* *"], ["r-"], []):
        with pytest.raises(ValueError):
            parse_workload(bad)


def test_budgeted_cost_function_counts_refuses_and_keeps_the_best():
    parsed = parse_workload(["w-a *", "w-a", "r-b"])
    workload, meter = budgeted_workload(parsed, budget=3)
    assert workload.txns[0] == [("w", "a", 1, 2)]
    assert workload.get_opt_seq_cost([1, 0, 2]) == 3  # txn 0 writes a at 2 after txn 1's write at 1
    assert workload.get_opt_seq_cost([0, 1, 2]) == 2
    assert workload.get_opt_seq_cost([2]) == 1  # a prefix: counted, never "best complete"
    with pytest.raises(BudgetExhausted):
        workload.get_opt_seq_cost([0, 1, 2])
    assert not isinstance(BudgetExhausted("x"), Exception)  # `except Exception` cannot swallow it
    assert (meter.calls, workload.calls_left) == (3, 0)
    assert workload.best_seen() == (2, [0, 1, 2])
    with pytest.raises(AttributeError):
        workload.budget = 10**9
    with pytest.raises(ValueError, match="out of range"):
        workload.get_opt_seq_cost([3])


def test_synthetic_sets_are_seeded_and_shaped_like_the_real_ones():
    assert generate_set(1) == generate_set(1)
    assert generate_set(1) != generate_set(2)
    w1, w2, w3 = (ops for _, ops in generate_set(1))
    assert all(len(t.split()) == 16 and len({tok[2:] for tok in t.split()}) == 16 for t in w1)
    assert {len(t.split()) for t in w2[:50]} == {21} and {len(t.split()) for t in w2[50:]} == {5}
    assert all(t.split()[0][2:] in "12345" and t.split()[-1][2:] in {"6", "7", "8", "9", "10"} for t in w3[:50])
    holdout_ops = {w.ops for s in stage_plan("holdout", None).sets for w in s.workloads}
    assert not holdout_ops & {w.ops for w in synthetic_set(1).workloads}


# --- fidelity on the real workloads ----------------------------------------------------------------


def test_real_identity_makespans(shared_data):
    real = load_real_set(shared_data / "txn_scheduling")
    assert [w.identity_makespan() for w in real.workloads] == [452, 38, 47]
    assert [w.lower_bound() for w in real.workloads] == [16, 21, 9]


@pytest.mark.parametrize("program", ["baselines/smf_greedy.py", "initial.py"])
def test_fidelity_smf_greedy_on_real_data(evaluator, tmp_path, shared_data, program):
    result = run_eval(evaluator, PROBLEM / program, tmp_path, stage="full", data_dir=str(shared_data))
    metrics = result["metrics"]
    assert [metrics[f"makespan_W{i}"] for i in (1, 2, 3)] == [244, 55, 53]
    assert metrics["makespan_total"] == 352 and metrics["identity_makespan_total"] == 537
    assert result["score"] == pytest.approx(41.86, abs=0.5)
    assert result["score"] == pytest.approx(100 * (537 - 352) / 441.9, abs=1e-9)


def test_identity_baseline_scores_zero(evaluator, tmp_path, shared_data):
    result = run_eval(evaluator, PROBLEM / "baselines/identity.py", tmp_path, stage="full", data_dir=str(shared_data))
    assert result["score"] == 0.0 and result["metrics"]["makespan_total"] == 537


def test_a_data_dir_without_the_workloads_is_an_error(evaluator, tmp_path):
    with pytest.raises(FileNotFoundError):
        empty = tmp_path / "no_data"
        empty.mkdir()
        run_eval(evaluator, PROBLEM / "initial.py", tmp_path, data_dir=str(empty))


# --- stages --------------------------------------------------------------------------------------


def test_quick_stage_is_fast_and_pinned(evaluator, tmp_path):
    started = time.monotonic()
    result = run_eval(evaluator, PROBLEM / "initial.py", tmp_path, stage="quick")
    assert time.monotonic() - started < 15  # a few seconds, with room for a loaded 2-core machine
    assert result["metrics"]["makespan_total"] == 239 and result["score"] == pytest.approx(21.0084, abs=1e-3)
    assert result["features"]["calls_used_frac"] == pytest.approx(446 * 3 / (3 * QUICK_BUDGET))


def test_holdout_runs_three_unseen_sets(evaluator, tmp_path):
    result = run_eval(evaluator, PROBLEM / "initial.py", tmp_path, stage="holdout")
    assert sum(key.startswith("makespan_s") for key in result["metrics"]) == 9
    assert 0 < result["score"] < 100


def test_unknown_stage_is_an_error(evaluator, tmp_path):
    with pytest.raises(ValueError, match="no stage"):
        run_eval(evaluator, PROBLEM / "initial.py", tmp_path, stage="medium")


# --- trust: schedules, failures, the budget ----------------------------------------------------------

NOT_PERMUTATIONS = """
    calls = []

    def get_best_schedule(workload, num_seqs):
        calls.append(1)
        n = workload.num_txns
        if len(calls) == 1:
            return 0, [0, 0] + list(range(2, n))        # 1 missing, 0 duplicated
        if len(calls) == 2:
            return 0, list(range(1, n)) + [n]           # 0 missing, n foreign
        return 0, ["first"] + list(range(1, n))         # not an int
"""


def test_non_permutation_schedules_score_zero_with_reasons(evaluator, tmp_path):
    result = run_eval(evaluator, write_program(tmp_path, "bad", NOT_PERMUTATIONS), tmp_path)
    assert result["score"] == 0.0 and result["metrics"]["invalid_schedules"] == 3
    feedback = result["feedback"]
    assert "W1: INVALID" in feedback and "missing 1" in feedback and "duplicated 0" in feedback
    assert "W2: INVALID" in feedback and "foreign (out of range) 50" in feedback
    assert "W3: INVALID" in feedback and "not an int id" in feedback


def test_a_wrong_return_shape_is_explained(evaluator, tmp_path):
    program = write_program(tmp_path, "shape", "def get_best_schedule(workload, num_seqs):\n    return None\n")
    result = run_eval(evaluator, program, tmp_path)
    assert result["score"] == 0.0 and "expected (makespan, schedule)" in result["feedback"]


def test_a_raising_candidate_is_a_recorded_failure(evaluator, tmp_path):
    source = """
        def get_best_schedule(workload, num_seqs):
            if workload.num_txns:
                raise ValueError("scheduler exploded")
    """
    with pytest.raises(CandidateError) as info:
        run_eval(evaluator, write_program(tmp_path, "raises", source), tmp_path)
    assert info.value.kind == "exception"
    assert "workload W1" in info.value.message and "scheduler exploded" in info.value.message


def test_a_program_without_the_entry_point_fails_clearly(evaluator, tmp_path):
    with pytest.raises(CandidateError, match="get_best_schedule"):
        run_eval(evaluator, write_program(tmp_path, "empty", "x = 1\n"), tmp_path)


def test_the_claimed_makespan_is_never_trusted(evaluator, tmp_path):
    source = """
        def get_best_schedule(workload, num_seqs):
            return 0, list(range(workload.num_txns))   # claims a perfect makespan
    """
    result = run_eval(evaluator, write_program(tmp_path, "liar", source), tmp_path)
    assert result["score"] == 0.0 and result["metrics"]["claimed_makespan_mismatches"] == 3
    assert "claimed makespan 0, recomputed" in result["feedback"]


LOCAL_SEARCH = """
    import random

    def get_best_schedule(workload, num_seqs):
        n = workload.num_txns
        best = list(range(n))
        best_cost = workload.get_opt_seq_cost(best)
        while True:  # never stops by itself: the budget ends it
            cand = best[:]
            cand.insert(random.randrange(n), cand.pop(random.randrange(n)))
            try:
                cost = workload.get_opt_seq_cost(cand)
            except Exception:  # cannot swallow BudgetExhausted
                continue
            if cost <= best_cost:
                best, best_cost = cand, cost
"""


def test_the_call_budget_is_enforced_deterministically(evaluator, tmp_path):
    program = write_program(tmp_path, "search", LOCAL_SEARCH)
    first, second = run_eval(evaluator, program, tmp_path), run_eval(evaluator, program, tmp_path)
    assert first["metrics"]["calls_total"] == 3 * QUICK_BUDGET
    assert first["metrics"]["budget_exhausted_workloads"] == 3
    assert first["score"] == second["score"] > 21.01  # beats SMF greedy on the same quick workloads
    strip = {"candidate_wall_s"}
    assert {k: v for k, v in first["metrics"].items() if k not in strip} == {
        k: v for k, v in second["metrics"].items() if k not in strip
    }
    assert "the budget of 2000 calls ran out" in first["feedback"]


def test_catching_the_budget_error_gains_nothing(evaluator, tmp_path):
    source = """
        def get_best_schedule(workload, num_seqs):
            n = workload.num_txns
            for _ in range(3 * workload.budget):
                try:
                    workload.get_opt_seq_cost(list(range(n)))
                except BaseException:
                    pass
            return workload.best_seen()
    """
    result = run_eval(evaluator, write_program(tmp_path, "greedy_caller", source), tmp_path)
    assert result["metrics"]["calls_total"] == 3 * QUICK_BUDGET and result["metrics"]["budget_violations"] == 0


def test_no_complete_schedule_before_the_budget_ran_out(evaluator, tmp_path):
    source = """
        def get_best_schedule(workload, num_seqs):
            while True:
                workload.get_opt_seq_cost([0])
    """
    result = run_eval(evaluator, write_program(tmp_path, "prefixes", source), tmp_path)
    assert result["score"] == 0.0 and "ran out before any complete schedule was evaluated" in result["feedback"]


@pytest.mark.parametrize(
    "tamper",
    [
        "workload._meter.calls = 0",  # reset the counter
        "type(workload)(workload._parsed, type(workload._meter)(10**9)).get_opt_seq_cost(list(range(n)))",
    ],
)
def test_working_around_the_budget_is_flagged_and_scores_zero(evaluator, tmp_path, tamper):
    source = f"""
        def get_best_schedule(workload, num_seqs):
            n = workload.num_txns
            for _ in range(5):
                workload.get_opt_seq_cost(list(range(n)))
            {tamper}
            return workload.get_opt_seq_cost(list(range(n))), list(range(n))
    """
    result = run_eval(evaluator, write_program(tmp_path, "tamper", source), tmp_path)
    assert result["score"] == 0.0 and result["metrics"]["budget_violations"] >= 1
    assert "evaluated around the budget" in result["feedback"]


def test_raising_the_budget_attribute_is_refused(evaluator, tmp_path):
    source = """
        def get_best_schedule(workload, num_seqs):
            workload.budget = 10**9
    """
    with pytest.raises(CandidateError, match="read-only"):
        run_eval(evaluator, write_program(tmp_path, "raise_budget", source), tmp_path)


# --- the problem directory ------------------------------------------------------------------------


def test_problem_directory_follows_the_contract():
    from adrs.problem import load_problem

    problem = load_problem(PROBLEM)
    assert [s.name for s in problem.stages] == ["quick", "full", "holdout"]
    assert problem.stages[-1].holdout
    assert set(problem.references) == {"baselines/smf_greedy.py", "baselines/identity.py"}
    text = (PROBLEM / "initial.py").read_text()
    assert text.count("# EVOLVE-BLOCK-START") == 1 and text.count("# EVOLVE-BLOCK-END") == 1


def test_no_fresh_simulator_copy_is_left_for_the_candidate(evaluator, tmp_path):
    # A fresh copy of simulator.py would come with a fresh call tally; the driver removes the file.
    source = """
        import os

        def get_best_schedule(workload, num_seqs):
            order = list(range(workload.num_txns))
            here = os.path.dirname(os.path.abspath(__file__))
            if os.path.exists(os.path.join(here, "simulator.py")) or os.path.exists("simulator.py"):
                order.reverse()  # tells the test the file was still there
            return 0, order
    """
    result = run_eval(evaluator, write_program(tmp_path, "peek", source), tmp_path)
    assert result["metrics"]["makespan_total"] == result["metrics"]["identity_makespan_total"]


def test_a_forged_result_file_is_an_invalid_output(evaluator, tmp_path):
    # The candidate shares the process with the driver: it can write a result of its own. Where the
    # runner says on a socket that its result is in (the result is read while it waits, before any
    # atexit hook), the candidate writes its record and that byte itself; elsewhere an atexit hook
    # overwrites the runner's record before the exit. Whatever it writes is re-validated.
    source = """
        import atexit
        import json
        import os
        import sys
        import time

        def _forge():
            with open(sys.argv[1]) as f:
                result_path = json.load(f)["result"]
            with open(result_path, "w") as f:
                json.dump({"ok": True, "value": {"workloads": [], "tally": 0}}, f)

        atexit.register(_forge)

        def _sockets():
            found = []
            for fd in os.listdir("/proc/self/fd"):
                try:
                    if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                        found.append(int(fd))
                except OSError:  # the listing's own descriptor
                    pass
            return found

        def get_best_schedule(workload, num_seqs):
            sockets = _sockets()
            if sockets:
                _forge()
                for fd in sockets:
                    os.write(fd, b"x")
                time.sleep(30)
            return 0, list(range(workload.num_txns))
    """
    with pytest.raises(CandidateError) as info:
        run_eval(evaluator, write_program(tmp_path, "forger", source), tmp_path)
    assert info.value.kind == "invalid_output" and "0 workload records for 3 workloads" in info.value.message
