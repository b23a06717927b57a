"""Exports run in another system: a fresh virtual environment holding nothing but what they declare.

Every built-in problem's initial program (and, for the problems whose leaderboard programs use
third-party types or import the leaderboard's module names, a program in that style) is written
with adrs/export_bundle.py, then its example (`<stem>_example.py`, which calls the policy as its
host system would) runs in a virtual environment made with `python -m venv` (no system site
packages, no adrs) into which only the export's declared requirements were installed with uv,
from its local cache (the versions evaluated with). The eplb export's vLLM adapter is checked
against vLLM's `rebalance_experts` contract with CPU tensors.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from adrs.export_bundle import Requirement, write_bundle
from tests.conftest import uv_env
from tests.problems import test_leaderboard_style as leaderboard

ROOT = Path(__file__).resolve().parents[1]
PROBLEMS = ROOT / "problems"
NO_DEPENDENCIES = (
    "prism",
    "telemetry_repair",
    "txn_scheduling",
    "cloudcast",
    "cant_be_late",
    "cant_be_late_multi",
    "llm_sql",
)
WHEELS = Path("/opt/wheels")  # where this machine kind keeps the CPU torch wheel
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def _export(problem: str, code: str, out: Path, stem: str):
    return write_bundle(PROBLEMS / problem, problem, textwrap.dedent(code), stem, out, {"score": "test"})


def _venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    return path / "bin" / "python"


def _install(python: Path, requirements: list[Requirement]) -> None:
    """Install exactly the declared requirements (pinned to the versions evaluated with) from uv's cache."""
    if not requirements:
        return
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not installed: cannot install the export's requirements into a fresh venv")
    pins = [f"{r.name}=={r.version}" if r.version else r.name for r in requirements]
    links = ["--find-links", str(WHEELS)] if WHEELS.is_dir() else []
    done = subprocess.run(
        [uv, "pip", "install", "-q", "--offline", "--python", str(python), *links, *pins],
        env=uv_env(),  # the user's own cache folder: conftest gives the tests a private one
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot install {pins} offline (not in uv's cache here): {done.stderr.strip()[-300:]}")


def _run(python: Path, script: str, cwd: Path) -> str:
    done = subprocess.run([str(python), script], cwd=cwd, env=CLEAN_ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{script} failed in the fresh venv:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> Path:
    """A fresh venv with the standard library only: no adrs, no numpy."""
    python = _venv(tmp_path_factory.mktemp("venv") / "bare")
    for module in ("adrs", "evaluators", "numpy"):
        probe = subprocess.run(
            [str(python), "-c", f"import {module}"],
            cwd=python.parent,
            env=CLEAN_ENV,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert probe.returncode != 0 and f"No module named '{module}'" in probe.stderr
    return python


@pytest.mark.parametrize("problem", NO_DEPENDENCIES)
def test_initial_program_export_runs_in_a_bare_venv(problem, bare_python, tmp_path):
    bundle = _export(problem, (PROBLEMS / problem / "initial.py").read_text(), tmp_path / "out", f"{problem}_p1")
    assert bundle.requirements == [], [r.line() for r in bundle.requirements]
    assert bundle.example is not None and bundle.module.read_text() == (PROBLEMS / problem / "initial.py").read_text()
    assert _run(bare_python, bundle.example.name, bundle.module.parent).strip()
    readme = bundle.readme.read_text()
    assert f"{problem}_p1.py" in readme and "$" not in readme.replace("$/", "")  # every placeholder filled


def test_cant_be_late_export_carries_the_strategy_module_it_imports(bare_python, tmp_path):
    bundle = _export("cant_be_late", (PROBLEMS / "cant_be_late" / "initial.py").read_text(), tmp_path, "cbl_p3")
    assert "from evaluators.cant_be_late.strategy import" in bundle.module.read_text()
    copied = {str(p.relative_to(tmp_path)) for p in bundle.support}
    assert "evaluators/cant_be_late/strategy.py" in copied
    assert "evaluators/cant_be_late/logs.py" not in copied  # only what is imported, not the package
    # the package __init__ is reduced to a docstring: importing it must not need adrs or numpy
    snippet = "import cbl_p3; print(cbl_p3.GreedySafetyStrategy.__mro__[1].__module__)"
    done = subprocess.run(
        [str(bare_python), "-c", snippet], cwd=tmp_path, env=CLEAN_ENV, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == "evaluators.cant_be_late.strategy", done.stderr


def test_leaderboard_style_exports_run_with_only_their_declared_packages(tmp_path):
    """networkx (cloudcast), pandas with the `solver`/`utils` helpers (llm_sql), `txn_simulator` and
    `workloads` (txn_scheduling), `sky_spot` (cant_be_late): declared or bundled, nothing else."""
    cases = {
        "cloudcast": leaderboard.CLOUDCAST_LEADERBOARD,
        "llm_sql": leaderboard.LLM_SQL_LEADERBOARD,
        "txn_scheduling": leaderboard.TXN_LEADERBOARD,
        "cant_be_late": (PROBLEMS / "cant_be_late" / "initial.py")
        .read_text()
        .replace(
            "from evaluators.cant_be_late.strategy import ClusterType, Strategy",
            "from sky_spot.strategies.strategy import Strategy\nfrom sky_spot.utils import ClusterType",
        ),
    }
    declared = {}
    for problem, code in cases.items():
        out = tmp_path / problem
        bundle = _export(problem, code, out, f"{problem}_lb")
        declared[problem] = {r.name for r in bundle.requirements}
        python = _venv(tmp_path / f"venv-{problem}")
        _install(python, bundle.requirements)
        assert _run(python, bundle.example.name, out).strip()
    assert declared == {
        "cloudcast": {"networkx"},
        "llm_sql": {"pandas"},
        "txn_scheduling": set(),
        "cant_be_late": set(),
    }
    assert (tmp_path / "llm_sql" / "solver.py").exists() and (tmp_path / "txn_scheduling" / "workloads.py").exists()
    assert (tmp_path / "cant_be_late" / "sky_spot" / "utils.py").exists()


# --- eplb: vLLM's rebalance_experts contract ------------------------------------------------------


# vLLM's own implementation (vllm/distributed/eplb/rebalance_algo.py, rebalance_experts) returns, on
# weight's device: phy2log int64 [layers, num_replicas], log2phy int64 [layers, experts,
# num_replicas - experts + 1] padded with -1, logcnt int64 [layers, experts].
def check_vllm_contract(rebalance_experts, dtypes) -> None:
    """vLLM's own implementation (vllm/distributed/eplb/rebalance_algo.py, rebalance_experts) returns,
    on weight's device: phy2log int64 [layers, num_replicas], log2phy int64 [layers, experts,
    num_replicas - experts + 1] padded with -1, logcnt int64 [layers, experts]."""
    import numpy as np
    import torch

    layers, experts, replicas = 6, 64, 288
    rng = np.random.default_rng(1)
    for dtype in dtypes:
        weight = torch.from_numpy(rng.integers(0, 5000, size=(layers, experts))).to(dtype)
        phy2log, log2phy, logcnt = rebalance_experts(weight, replicas, 8, 4, 32)
        assert all(isinstance(t, torch.Tensor) for t in (phy2log, log2phy, logcnt))
        assert phy2log.shape == (layers, replicas), phy2log.shape
        assert log2phy.shape == (layers, experts, replicas - experts + 1), log2phy.shape
        assert logcnt.shape == (layers, experts), logcnt.shape
        assert phy2log.dtype == log2phy.dtype == logcnt.dtype == torch.int64
        assert phy2log.device == log2phy.device == logcnt.device == weight.device
        assert (logcnt >= 1).all() and (logcnt.sum(1) == replicas).all()
        used = torch.arange(replicas - experts + 1)[None, None, :] < logcnt[:, :, None]
        assert (log2phy[~used] == -1).all()  # padding beyond each expert's count
        owner = torch.arange(experts)[None, :, None].expand_as(log2phy)
        held = torch.gather(phy2log, 1, log2phy.clamp(min=0).reshape(layers, -1)).reshape(log2phy.shape)
        assert (held[used] == owner[used]).all()  # each listed slot holds its expert
        assert sorted(log2phy[0][used[0]].tolist()) == list(range(replicas))  # every slot listed once


def _adapter(out: Path, stem: str, monkeypatch):
    """The export's `<stem>_vllm` module, imported with the export folder first on sys.path."""
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch not installed (pip install 'adrs[kernels]')")
    monkeypatch.syspath_prepend(str(out))
    return importlib.import_module(f"{stem}_vllm")


def test_eplb_vllm_adapter_meets_vllms_contract_for_numpy_and_torch_policies(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch", reason="torch not installed (pip install 'adrs[kernels]')")

    numpy_policy = _export("eplb", (PROBLEMS / "eplb" / "initial.py").read_text(), tmp_path / "np", "eplb_c1")
    _export("eplb", leaderboard.EPLB_LEADERBOARD, tmp_path / "torch", "eplb_c2")
    assert set(numpy_policy.adapters) == {"vllm"} and "rebalance_experts" in numpy_policy.readme.read_text()
    check_vllm_contract(
        _adapter(tmp_path / "np", "eplb_c1", monkeypatch).rebalance_experts, (torch.int64, torch.int32, torch.float32)
    )
    # the torch policy asserts int64 loads: integer loads of any width reach it as int64
    check_vllm_contract(
        _adapter(tmp_path / "torch", "eplb_c2", monkeypatch).rebalance_experts, (torch.int64, torch.int32)
    )


def test_eplb_vllm_adapter_rejects_a_placement_that_drops_an_expert(tmp_path, monkeypatch):
    dropping = (PROBLEMS / "eplb" / "initial.py").read_text() + textwrap.dedent("""
        _original = rebalance_experts


        def rebalance_experts(weight, *args):
            phy2log, log2phy, logcnt = _original(weight, *args)
            phy2log = phy2log.copy()
            phy2log[phy2log == 0] = 1  # expert 0 loses every replica; logcnt no longer agrees
            return phy2log, log2phy, logcnt
    """)
    _export("eplb", dropping, tmp_path, "eplb_bad")
    adapter = _adapter(tmp_path, "eplb_bad", monkeypatch)
    import torch

    with pytest.raises(ValueError, match="no replica"):
        adapter.rebalance_experts(torch.ones(2, 64, dtype=torch.int64), 288, 8, 4, 32)


CONTRACT_SCRIPT = """
import torch
import {stem}_vllm
from contract import check_vllm_contract
check_vllm_contract({stem}_vllm.rebalance_experts, (torch.int64, torch.int32, torch.float32))
print("contract ok")
"""


@pytest.mark.slow  # torch (~900 MB) into a fresh venv, imported twice: 13 s idle, over a minute under load
def test_eplb_export_runs_in_a_fresh_venv_with_numpy_and_torch(tmp_path):
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch not installed here, so no version to pin for the export")
    out = tmp_path / "out"
    bundle = _export("eplb", (PROBLEMS / "eplb" / "initial.py").read_text(), out, "eplb_p1")
    assert {r.name for r in bundle.requirements} == {"numpy", "torch"}
    assert json.dumps([r.needed_by for r in bundle.requirements if r.name == "torch"]).count("eplb_p1_vllm.py") == 1
    python = _venv(tmp_path / "venv")
    _install(python, bundle.requirements)
    assert "GPU balancedness" in _run(python, bundle.example.name, out)
    source = Path(__file__).read_text()
    start = source.index("def check_vllm_contract(")
    (out / "contract.py").write_text(source[start : source.index("\n\n\ndef _adapter(")] + "\n")
    (out / "contract_check.py").write_text(CONTRACT_SCRIPT.format(stem="eplb_p1"))
    assert "contract ok" in _run(python, "contract_check.py", out)
