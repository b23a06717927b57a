"""sparse_attention: the workload, the trusted scoring, and evaluations through the real harness.

Scoring rules are checked in-process on the trusted modules (cheap); the baselines and the
rejection of out-of-budget or malformed selections go through sandboxed candidate processes.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")

from adrs.problem import load_problem  # noqa: E402
from adrs.problemkit import CandidateError  # noqa: E402

PROBLEM = Path(__file__).resolve().parents[2] / "problems" / "sparse_attention"


from tests.problems.helpers import load_module as _load  # noqa: E402


@pytest.fixture(scope="module")
def evaluator() -> ModuleType:
    return _load(PROBLEM / "evaluator.py", "sparse_attention_evaluator")


def _evaluate(evaluator, program: Path, tmp_path: Path, stage: str = "quick", **kwargs) -> dict:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return evaluator.evaluate(str(program), stage=stage, workdir=str(work), **kwargs)


# --- problem directory, workload and scoring (in-process, trusted code only) ------------------


def test_problem_declares_a_two_objective_front():
    problem = load_problem(PROBLEM)
    assert [(o.name, o.direction) for o in problem.objectives] == [("error", "min"), ("keys_fraction", "min")]
    assert {f.name for f in problem.features} == {"keys_fraction", "sampled_share"}
    assert problem.limits.candidate_memory_mb >= 8192


def test_workload_is_seeded_and_the_candidate_view_hides_keys_and_values(evaluator):
    workload = evaluator.workload
    spec = workload.CaseSpec("t", 6, 1000, 5, evaluator.DEFAULT_MIX)
    a, b = workload.synthetic_case(spec), workload.synthetic_case(spec)
    assert torch.equal(a.k, b.k) and torch.equal(a.v, b.v) and a.kinds == b.kinds
    view = workload.candidate_view(a)
    shapes = [tuple(t.shape) for t in view.tensors()]
    assert shapes == [(6, 64), (6, 1000, 16), (6, 64, 16), (6, 63, 64), (6, 63, 64)]  # 1000 keys -> 63 pages
    assert not any(s == tuple(a.k.shape) for s in shapes)
    # The sketch ranks keys well but not perfectly: approximate and true scores correlate.
    approx = torch.einsum("hr,hnr->hn", torch.einsum("hd,hdr->hr", a.q, view.projection), view.sketch.float())
    exact = torch.einsum("hd,hnd->hn", a.q, a.k)
    correlations = [float(torch.corrcoef(torch.stack([approx[h], exact[h]]))[0, 1]) for h in range(6)]
    assert min(correlations) > 0.6 and sum(correlations) / 6 > 0.85 and max(correlations) < 0.9999
    # Page bounds bound every key of their page.
    pages = torch.arange(1000) // 16
    assert bool((a.k >= view.page_min.float()[:, pages] - 1e-2).all())
    assert bool((a.k <= view.page_max.float()[:, pages] + 1e-2).all())


def test_dense_selection_is_exact_and_sampling_weights_reweight(evaluator):
    scoring, workload = evaluator.scoring, evaluator.workload
    case = workload.synthetic_case(workload.CaseSpec("t", 4, 512, 9, evaluator.DEFAULT_MIX))
    everything = torch.arange(512).repeat(4, 1)
    dense = scoring.dense_weights(everything, torch.ones(4, 512), 4, 512, "t")
    result = scoring.evaluate_heads(case.q, case.k, case.v, dense)
    assert float(result.errors.max()) < 1e-9 and result.keys_read.tolist() == [512] * 4
    # Duplicates add their weights; padding is ignored; weight > 1 counts as sampled.
    idx = torch.tensor([[0, 0, 5, -1]] * 4)
    w = torch.tensor([[1.0, 2.0, 1.0, 123.0]] * 4)
    dense = scoring.dense_weights(idx, w, 4, 512, "t")
    assert dense[0, 0] == 3.0 and dense[0, 5] == 1.0 and int((dense[0] > 0).sum()) == 2
    assert scoring.evaluate_heads(case.q, case.k, case.v, dense).sampled_read.tolist() == [1] * 4
    assert scoring.score(0.0, 0.0, 0.0) == 100.0
    assert scoring.score(0.1, 0.1, 0.1) == pytest.approx(100 * math.exp(-1.0))


@pytest.mark.parametrize(
    ("indices", "weights", "message"),
    [
        ([[0, 512]], [[1.0, 1.0]], "must lie in [0, 512)"),
        ([[0, -2]], [[1.0, 1.0]], "must lie in [0, 512)"),
        ([[0, 1]], [[1.0, 0.0]], "finite weight > 0"),
        ([[0, 1]], [[1.0, float("nan")]], "finite weight > 0"),
        ([[-1, -1]], [[1.0, 1.0]], "head 0 selects no key"),
    ],
)
def test_malformed_selections_are_named(evaluator, indices, weights, message):
    with pytest.raises(evaluator.scoring.SelectionError, match=message.replace("[", r"\[").replace(")", r"\)")):
        evaluator.scoring.dense_weights(torch.tensor(indices), torch.tensor(weights), 1, 512, "t")
    with pytest.raises(evaluator.scoring.SelectionError, match="integer tensor"):
        evaluator.scoring.dense_weights(torch.tensor([[0.0]]), torch.tensor([[1.0]]), 1, 512, "t")


# --- evaluations through the harness -------------------------------------------------------


def test_baselines_order_as_in_vattention(evaluator, tmp_path):
    """Quick stage: the hybrid beats top-k, which beats uniform sampling; all read 10 % of keys."""
    scores = {}
    for name in ("topk", "uniform_sampling", "topk_sampling"):
        result = _evaluate(evaluator, PROBLEM / "baselines" / f"{name}.py", tmp_path)
        metrics = result["metrics"]
        assert metrics["keys_fraction"] == pytest.approx(0.1, abs=0.002)
        assert 0 < metrics["error_mean"] <= metrics["error_p95"] <= metrics["error_max"]
        assert result["score"] == pytest.approx(100 * math.exp(-(metrics["error"] + metrics["keys_fraction"]) / 0.2))
        scores[name] = result
    assert scores["topk"]["features"]["sampled_share"] == 0.0
    assert scores["uniform_sampling"]["features"]["sampled_share"] == 1.0
    assert scores["topk_sampling"]["score"] > scores["topk"]["score"] > scores["uniform_sampling"]["score"]
    # Flat heads are where top-k fails and sampling works.
    assert scores["uniform_sampling"]["metrics"]["error_diffuse"] < scores["topk"]["metrics"]["error_diffuse"]


def test_initial_program_scores_like_topk(evaluator, tmp_path):
    result = _evaluate(evaluator, PROBLEM / "initial.py", tmp_path)
    assert result["score"] == pytest.approx(14.64, abs=0.05)  # the README's figure (quick, synthetic)


def _candidate(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "candidate.py"
    path.write_text("import torch\n\n" + textwrap.dedent(body))
    return path


def test_over_budget_selection_is_rejected(evaluator, tmp_path):
    program = _candidate(
        tmp_path,
        """
        def select_keys(step):
            heads = step.query.shape[0]
            count = int(0.3 * step.n_keys)
            return torch.arange(count).repeat(heads, 1), torch.ones(heads, count)
    """,
    )
    with pytest.raises(CandidateError) as info:
        _evaluate(evaluator, program, tmp_path)
    assert info.value.kind == "invalid_output"
    assert "over the budget of 0.25" in info.value.message


def test_wrong_return_type_is_rejected(evaluator, tmp_path):
    program = _candidate(
        tmp_path,
        """
        def select_keys(step):
            return [0, 1, 2]
    """,
    )
    with pytest.raises(CandidateError) as info:
        _evaluate(evaluator, program, tmp_path)
    assert "must return (indices, weights), two tensors" in info.value.message


def test_real_dumps_from_a_data_folder_are_used(evaluator, tmp_path):
    """A user's own q/k/v dumps (none ship with the project): the format and the path resolution."""
    folder = tmp_path / "data" / "sparse_attention" / "decode_kv"
    folder.mkdir(parents=True)
    gen = np.random.default_rng(0)
    for name, n in (("layer0", 320), ("layer1", 200)):
        np.savez(
            folder / f"{name}.npz",
            q=gen.standard_normal((3, 64)).astype(np.float16),
            k=gen.standard_normal((3, n, 64)).astype(np.float16),
            v=gen.standard_normal((3, n, 64)).astype(np.float32),
        )
    result = _evaluate(evaluator, PROBLEM / "baselines" / "topk_sampling.py", tmp_path, data_dir=str(tmp_path / "data"))
    assert "layer0: 3 heads x 320 keys" in result["feedback"] and "layer1: 3 heads x 200 keys" in result["feedback"]
    assert "error_real" in result["metrics"]


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["full", "holdout"])
def test_baselines_order_holds_on_full_and_holdout(evaluator, tmp_path, stage):
    scores = {
        name: _evaluate(evaluator, PROBLEM / "baselines" / f"{name}.py", tmp_path, stage=stage)["score"]
        for name in ("topk", "uniform_sampling", "topk_sampling")
    }
    assert scores["topk_sampling"] > scores["topk"] > scores["uniform_sampling"] > 0
