"""Trusted code never reads through a name a candidate controls, and never takes a candidate's word
for how it failed: the reading helpers, the worker's own files, and in-process evaluators."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from adrs.evaluate.runner import EvalSettings, evaluate_stage
from adrs.problem import load_problem
from adrs.problemkit.outputs import CandidateFileError, open_output, read_output, stat_output

IN_PROCESS_EVALUATOR = """import importlib.util


def evaluate(program_path, **kwargs):
    spec = importlib.util.spec_from_file_location("candidate", program_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {"score": float(module.run())}
"""


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("ESCAPED: a file only trusted code may read\n")
    return path


def test_open_output_reads_a_regular_file_only(tmp_path: Path, secret: Path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "out.bin").write_bytes(b"tensor bytes")
    assert read_output(home, "out.bin", 100) == b"tensor bytes"
    (home / "link.bin").symlink_to(secret)
    with pytest.raises(CandidateFileError):
        open_output(home, "link.bin", 100)
    with pytest.raises(CandidateFileError):
        stat_output(home, "link.bin")
    os.mkfifo(home / "fifo.bin")  # opened for reading, a FIFO would block the reader for ever
    outcome: list[BaseException | None] = []

    def open_fifo() -> None:
        try:
            open_output(home, "fifo.bin", 100).close()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            outcome.append(exc)

    reader = threading.Thread(target=open_fifo, daemon=True)
    reader.start()
    reader.join(10)
    assert not reader.is_alive(), "opening a FIFO blocked the trusted reader"
    assert isinstance(outcome[0], CandidateFileError), outcome
    with pytest.raises(CandidateFileError, match="more than"):
        open_output(home, "out.bin", 5)
    with pytest.raises(CandidateFileError):
        open_output(home, "../secret.txt", 100)
    (home / "sub").mkdir()
    with pytest.raises(CandidateFileError):
        open_output(home, "sub", 100)
    with pytest.raises(FileNotFoundError):
        open_output(home, "missing.bin", 100)


def test_tensor_files_are_never_read_through_a_link(tmp_path: Path):
    torch = pytest.importorskip("torch")
    from evaluators.kernel_bench.tensorio import TensorFileError, load_tensors, save_tensors

    hidden = tmp_path / "reference.pt"  # e.g. reference outputs the candidate must not hand in as its own
    save_tensors(hidden, {"out": [torch.ones(3)]})
    home = tmp_path / "home"
    home.mkdir()
    (home / "outputs.pt").symlink_to(hidden)
    with pytest.raises(TensorFileError, match="plain file"):
        load_tensors(home / "outputs.pt", max_bytes=1 << 20)


def test_the_leaderboard_import_check_never_follows_a_link(tmp_path: Path):
    """eplb's trusted evaluator asks `source_imports` of the program file: a link there must not make
    it parse (and so reveal through its answer) a file the candidate chose."""
    from evaluators.leaderboard import source_imports

    hidden = tmp_path / "hidden.py"
    hidden.write_text("import torch\n")
    assert source_imports(hidden, "torch")
    (tmp_path / "program.py").symlink_to(hidden)
    assert not source_imports(tmp_path / "program.py", "torch")
    os.mkfifo(tmp_path / "fifo.py")  # nobody writes: a blocking open would hang the evaluator
    assert not source_imports(tmp_path / "fifo.py", "torch")


def _in_process_problem(toy_problem: Path) -> Path:
    (toy_problem / "evaluator.py").write_text(IN_PROCESS_EVALUATOR)
    return toy_problem


def test_the_worker_stderr_is_read_through_the_runners_descriptor(
    toy_problem: Path, tmp_path: Path, secret: Path, start: str
):
    # An in-process (OpenEvolve-style) candidate runs inside the worker, whose folder holds
    # worker.stderr: replacing it with a link must not make the runner read the link's target.
    problem = load_problem(_in_process_problem(toy_problem))
    program = tmp_path / "swap.py"
    program.write_text(
        "import os, sys\n\n\ndef run():\n"
        "    sys.stderr.write('the candidate wrote this\\n'); sys.stderr.flush()\n"
        "    os.remove('worker.stderr')\n"
        f"    os.symlink({str(secret)!r}, 'worker.stderr')\n"
        "    os._exit(1)\n"
    )
    settings = EvalSettings(warm=start == "warm")
    evaluation = asyncio.run(evaluate_stage(problem, program, problem.stage("quick"), settings))
    assert not evaluation.ok
    assert "ESCAPED" not in evaluation.error, evaluation.error
    assert "the candidate wrote this" in evaluation.error


@pytest.mark.parametrize("claimed", ["evaluator_error", "timeout", "output_limit"])
def test_an_in_process_candidate_cannot_claim_a_trusted_failure_kind(
    toy_problem: Path, tmp_path: Path, claimed: str, start: str
):
    problem = load_problem(_in_process_problem(toy_problem))
    program = tmp_path / "claim.py"
    program.write_text(
        "from adrs.problemkit import CandidateError\n\n\ndef run():\n"
        f"    raise CandidateError({claimed!r}, 'not my fault')\n"
    )
    settings = EvalSettings(warm=start == "warm")
    evaluation = asyncio.run(evaluate_stage(problem, program, problem.stage("quick"), settings))
    assert (evaluation.ok, evaluation.error_kind) == (False, "exception"), evaluation.error


def test_an_evaluator_still_reports_its_own_kinds(toy_problem: Path, tmp_path: Path):
    (toy_problem / "evaluator.py").write_text(
        "from adrs.problemkit import CandidateError\n\n\ndef evaluate(program_path, **kwargs):\n"
        "    raise CandidateError('timeout', 'the trusted side measured it')\n"
    )
    problem = load_problem(toy_problem)
    program = tmp_path / "any.py"
    program.write_text("def run():\n    return 1\n")
    evaluation = asyncio.run(evaluate_stage(problem, program, problem.stage("quick"), EvalSettings()))
    assert evaluation.error_kind == "timeout"
