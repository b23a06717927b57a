"""Programs written for the public ADRS leaderboard run unchanged and score as their native twins.

For each built-in problem, a program written here in the leaderboard's style (its types, its
imports, its helper modules: torch tensors for eplb, a networkx DiGraph and `from broadcast
import ...` for cloudcast, `from txn_simulator import ...` / `from workloads import ...` and a
one-argument get_best_schedule for txn_scheduling, a `Solution` class taking and returning a
pandas DataFrame with `from solver import ...` for llm_sql, the leaderboard's own Model dataclass
for prism, typing-annotated dict functions for telemetry_repair) scores exactly what the
equivalent native program scores (time terms aside). The two spot-scheduling problems have theirs
in test_cant_be_late.py and test_cant_be_late_multi.py (`sky_spot` imports). Each leaderboard
program checks the type it receives, so a driver handing it the native type fails the test.

Everything runs through the real evaluators, harness and sandboxed candidate processes; the last
test repeats the third-party imports under bubblewrap, whose candidates see only the Python
runtime and what the drivers import.
"""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from adrs import sandbox as backends
from adrs.problemkit import CandidateError
from tests.problems.helpers import load_module

ROOT = Path(__file__).resolve().parents[2]
PROBLEMS = ROOT / "problems"


def _needs(*packages: str) -> None:
    missing = [p for p in packages if importlib.util.find_spec(p) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (pip install 'adrs[leaderboard,kernels]')")


def _evaluator(problem: str) -> ModuleType:
    return load_module(PROBLEMS / problem / "evaluator.py", f"{problem}_evaluator_lb")


def _write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


def _evaluate(problem: str, program: Path, tmp_path: Path, stage: str = "quick", **kw) -> dict:
    workdir = tmp_path / f"work-{program.stem}-{stage}"
    workdir.mkdir()
    return _evaluator(problem).evaluate(str(program), stage=stage, workdir=str(workdir), **kw)


@pytest.fixture(autouse=True)
def _synthetic_data(monkeypatch):
    monkeypatch.delenv("ADRS_DATA", raising=False)


# --- eplb: torch tensors in and out -------------------------------------------------------------

# The same placement twice: one replica of every expert in slots 0..E-1, then the extra slots go
# round-robin to the experts from the heaviest down (a stable order, so ties agree).
EPLB_NUMPY = """
import numpy as np


def rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_gpus):
    assert isinstance(weight, np.ndarray) and weight.dtype == np.int64, type(weight)
    layers, experts = weight.shape
    extra = num_replicas - experts
    order = np.argsort(-weight, axis=1, kind="stable")
    k = np.arange(extra)
    chosen = order[:, k % experts]
    phy2log = np.concatenate([np.tile(np.arange(experts), (layers, 1)), chosen], axis=1)
    rows = np.repeat(np.arange(layers), extra)
    logcnt = np.ones((layers, experts), dtype=np.int64)
    np.add.at(logcnt, (rows, chosen.ravel()), 1)
    log2phy = np.full((layers, experts, 1 + -(-extra // experts)), -1, dtype=np.int64)
    log2phy[:, :, 0] = np.arange(experts)
    log2phy[rows, chosen.ravel(), np.tile(1 + k // experts, layers)] = np.tile(experts + k, layers)
    return phy2log, log2phy, logcnt
"""

EPLB_LEADERBOARD = """
import torch


def rebalance_experts(
    weight: torch.Tensor,
    num_replicas: int,
    num_groups: int,
    num_nodes: int,
    num_gpus: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    assert isinstance(weight, torch.Tensor) and weight.dtype == torch.int64, type(weight)
    layers, experts = weight.shape
    extra = num_replicas - experts
    order = torch.argsort(-weight, dim=1, stable=True)
    k = torch.arange(extra)
    chosen = order[:, k % experts]
    phy2log = torch.cat([torch.arange(experts).expand(layers, experts), chosen], dim=1)
    rows = torch.arange(layers).repeat_interleave(extra)
    logcnt = torch.ones((layers, experts), dtype=torch.int64)
    logcnt.index_put_((rows, chosen.reshape(-1)), torch.ones(layers * extra, dtype=torch.int64), accumulate=True)
    log2phy = torch.full((layers, experts, 1 + -(-extra // experts)), -1, dtype=torch.int64)
    log2phy[:, :, 0] = torch.arange(experts)
    log2phy[rows, chosen.reshape(-1), (1 + k // experts).repeat(layers)] = (experts + k).repeat(layers)
    return phy2log, log2phy, logcnt
"""


def test_eplb_torch_program_gets_tensors_and_balances_as_its_numpy_twin(tmp_path):
    _needs("torch")
    native = _evaluate("eplb", _write(tmp_path, "native", EPLB_NUMPY), tmp_path)
    leaderboard = _evaluate("eplb", _write(tmp_path, "leaderboard", EPLB_LEADERBOARD), tmp_path)
    for key in ("balancedness", "balancedness_exact", "slot_balancedness", "calls"):
        assert leaderboard["metrics"][key] == native["metrics"][key], key
    assert 0.5 < native["metrics"]["balancedness"] < 1


# --- cloudcast: a networkx DiGraph and the `broadcast` module --------------------------------------

CLOUDCAST_LEADERBOARD = """
import networkx as nx


def search_algorithm(src, dsts, G, num_partitions):
    from broadcast import BroadCastTopology

    assert isinstance(G, nx.DiGraph) and G.is_directed() and not G.is_multigraph()
    h = G.copy()
    h.remove_edges_from(list(h.in_edges(src)) + list(nx.selfloop_edges(h)))
    bc_topology = BroadCastTopology(src, dsts, num_partitions)
    for dst in dsts:
        path = nx.dijkstra_path(h, src, dst, weight="cost")
        for i in range(0, len(path) - 1):
            s, t = path[i], path[i + 1]
            for j in range(bc_topology.num_partitions):
                bc_topology.append_dst_partition_path(dst, j, [s, t, G[s][t]])
    return bc_topology
"""


def test_cloudcast_networkx_program_scores_as_the_native_dijkstra(tmp_path):
    _needs("networkx")
    native_program = (
        (PROBLEMS / "cloudcast" / "baselines" / "dijkstra.py")
        .read_text()
        .replace(
            "    topology = BroadCastTopology(",
            '    assert type(G).__name__ == "RegionGraph"\n    topology = BroadCastTopology(',
        )
    )
    native = _evaluate("cloudcast", _write(tmp_path, "native", native_program), tmp_path, stage="full")
    leaderboard = _evaluate("cloudcast", _write(tmp_path, "leaderboard", CLOUDCAST_LEADERBOARD), tmp_path, stage="full")
    assert leaderboard["score"] == native["score"]
    assert leaderboard["metrics"]["total_cost"] == native["metrics"]["total_cost"]


# --- txn_scheduling: txn_simulator / workloads modules, one-argument get_best_schedule -------------

TXN_LEADERBOARD = """
import time
import random

from txn_simulator import Workload
from workloads import WORKLOAD_1, WORKLOAD_2, WORKLOAD_3


def get_best_schedule(workload):
    # the native initial program's greedy, as LEVI writes it: one argument
    n = workload.num_txns
    txn_seq = [random.randint(0, n - 1)]
    remaining = [t for t in range(n) if t != txn_seq[0]]
    for _ in range(n - 1):
        if random.random() > 1.0:
            txn_seq.append(remaining.pop(random.randint(0, len(remaining) - 1)))
            continue
        best_cost, best_txn, sampled = None, -1, []
        for _ in range(10):
            last = len(remaining) == 1
            t = remaining.pop(0 if last else random.randint(0, len(remaining) - 1))
            sampled.append(t)
            cost = workload.get_opt_seq_cost(txn_seq + [t])
            if best_cost is None or cost < best_cost:
                best_cost, best_txn = cost, t
            if last:
                break
        txn_seq.append(best_txn)
        sampled.remove(best_txn)
        remaining.extend(sampled)
    return workload.get_opt_seq_cost(txn_seq), txn_seq


def get_random_costs():
    start_time = time.time()
    total, schedules = 0, []
    for text in (WORKLOAD_1, WORKLOAD_2, WORKLOAD_3):
        workload = Workload(text)
        cost, schedule = get_best_schedule(workload)
        total += workload.get_opt_seq_cost(schedule)
        schedules.append(schedule)
    return total, schedules, time.time() - start_time
"""


def test_txn_program_with_the_leaderboard_imports_scores_as_the_native_initial(tmp_path):
    initial = PROBLEMS / "txn_scheduling" / "initial.py"
    assert "workload.get_opt_seq_cost(txn_seq + [t])" in initial.read_text()  # the same greedy
    native = _evaluate("txn_scheduling", initial, tmp_path)
    leaderboard = _evaluate("txn_scheduling", _write(tmp_path, "leaderboard", TXN_LEADERBOARD), tmp_path)
    assert leaderboard["score"] == native["score"] > 0
    assert leaderboard["metrics"]["budget_violations"] == 0


def test_txn_evaluations_on_a_workload_the_program_builds_are_caught(tmp_path):
    sneaky = TXN_LEADERBOARD.replace(
        "def get_best_schedule(workload):\n",
        "def get_best_schedule(workload):\n    Workload(WORKLOAD_1).get_opt_seq_cost([0])  # outside the budget\n",
    )
    result = _evaluate("txn_scheduling", _write(tmp_path, "sneaky", sneaky), tmp_path)
    assert result["score"] == 0 and result["metrics"]["budget_violations"] == 1
    assert "evaluated around the budget" in result["feedback"]


# --- llm_sql: a pandas DataFrame in and out, `solver` / `utils` helper modules ----------------------

LLM_SQL_LEADERBOARD = """
import pandas as pd
from typing import List, Tuple

from solver import Algorithm
from utils import calculate_length


class Solution:
    def __init__(self):
        self.alg = Algorithm()

    def solve(
        self,
        df: pd.DataFrame,
        early_stop: int = 0,
        row_stop: int = None,
        col_stop: int = None,
        col_merge: List[List[str]] = [],
        one_way_dep: List[Tuple[str, str]] = [],
        distinct_value_threshold: float = 0.8,
        parallel: bool = True,
    ) -> pd.DataFrame:
        assert isinstance(df, pd.DataFrame) and calculate_length("ab") == 4
        for group in col_merge:  # the merged column goes last, the native initial program's layout
            df = self.alg.merging_columns(df, group, prepended=False)
        return df
"""


def test_llm_sql_dataframe_program_scores_the_native_initial_hit_rate(tmp_path):
    _needs("pandas")
    native = _evaluate("llm_sql", PROBLEMS / "llm_sql" / "initial.py", tmp_path)
    leaderboard = _evaluate("llm_sql", _write(tmp_path, "leaderboard", LLM_SQL_LEADERBOARD), tmp_path)
    assert leaderboard["metrics"]["hit_rate"] == native["metrics"]["hit_rate"]
    assert leaderboard["metrics"]["hit_score"] == native["metrics"]["hit_score"]


def test_llm_sql_dataframe_that_edits_or_repeats_rows_is_rejected(tmp_path):
    _needs("pandas")
    repeated = LLM_SQL_LEADERBOARD.replace("        return df\n", "        return pd.concat([df.iloc[:1]] * len(df))\n")
    with pytest.raises(CandidateError) as caught:
        _evaluate("llm_sql", _write(tmp_path, "repeated", repeated), tmp_path)
    assert caught.value.kind == "invalid_output" and "not a reordering" in caught.value.message


# --- prism and telemetry_repair: the leaderboard's own types are the native ones ------------------

PRISM_LEADERBOARD = """
from dataclasses import dataclass

GPU_MEM_SIZE = 80  # GB


@dataclass
class Model:
    model_name: str
    model_size: int
    req_rate: int
    slo: int
    cur_gpu_id: int


def compute_model_placement(gpu_num: int, models: list[Model]) -> dict[int, list[Model]]:
    ordered = sorted(models, key=lambda m: m.req_rate / m.slo, reverse=True)
    placement = {gpu_id: [] for gpu_id in range(gpu_num)}
    free = [GPU_MEM_SIZE] * gpu_num
    rate = [0.0] * gpu_num
    for model in ordered:
        best, best_pressure = None, float("inf")
        for gpu_id in range(gpu_num):
            if free[gpu_id] > 0 and model.model_size <= free[gpu_id] and rate[gpu_id] / free[gpu_id] < best_pressure:
                best, best_pressure = gpu_id, rate[gpu_id] / free[gpu_id]
        placement[best].append(model)
        rate[best] += model.req_rate / model.slo
        free[best] -= model.model_size
    return placement
"""


def test_prism_program_with_its_own_model_dataclass_scores_as_the_native_greedy(tmp_path):
    native = _evaluate("prism", PROBLEMS / "prism" / "baselines" / "greedy.py", tmp_path, stage="full")
    leaderboard = _evaluate("prism", _write(tmp_path, "leaderboard", PRISM_LEADERBOARD), tmp_path, stage="full")
    assert leaderboard["score"] == native["score"]


TELEMETRY_LEADERBOARD = """
from typing import Dict, Any, Tuple, List


def repair_network_telemetry(telemetry: Dict[str, Dict[str, Any]],
                             topology: Dict[str, List[str]]) -> Dict[str, Dict[str, Tuple]]:
    result = {}
    for interface_id, data in telemetry.items():
        repaired = {}
        for field in ("rx_rate", "tx_rate", "interface_status"):
            repaired[field] = (data[field], data[field], 0.5)
        for field in ("connected_to", "local_router", "remote_router"):
            repaired[field] = data[field]
        result[interface_id] = repaired
    return result


def run_repair(telemetry: Dict[str, Dict[str, Any]], topology: Dict[str, List[str]]) -> Dict[str, Any]:
    return repair_network_telemetry(telemetry, topology)
"""


def test_telemetry_program_in_the_leaderboard_layout_scores_as_the_native_passthrough(tmp_path):
    native = _evaluate("telemetry_repair", PROBLEMS / "telemetry_repair" / "initial.py", tmp_path)
    leaderboard = _evaluate("telemetry_repair", _write(tmp_path, "leaderboard", TELEMETRY_LEADERBOARD), tmp_path)
    assert leaderboard["score"] == native["score"]
    assert leaderboard["metrics"]["combined_score"] == native["metrics"]["combined_score"]


# --- the third-party packages are visible to sandboxed candidates --------------------------------


@pytest.mark.slow  # three evaluations under bubblewrap, torch imported three times: 13 s idle, 1-2 min under load
def test_leaderboard_programs_import_torch_networkx_and_pandas_under_bubblewrap(tmp_path, monkeypatch):
    _needs("torch", "networkx", "pandas")
    reason = backends.get("bwrap").unavailable_reason()
    if reason is not None:
        pytest.skip(f"bubblewrap unavailable here: {reason}")
    monkeypatch.setenv("ADRS_SANDBOX", "bwrap")
    cloudcast = "import pandas as pd  # as OpenEvolve's program, at module level\n" + CLOUDCAST_LEADERBOARD
    assert _evaluate("cloudcast", _write(tmp_path, "cc", cloudcast), tmp_path)["score"] > 0
    assert _evaluate("llm_sql", _write(tmp_path, "sql", LLM_SQL_LEADERBOARD), tmp_path)["metrics"]["hit_rate"] > 0.1
    assert _evaluate("eplb", _write(tmp_path, "moe", EPLB_LEADERBOARD), tmp_path)["metrics"]["balancedness"] > 0.5


# --- llm_sql's DataFrame in and out, unit by unit ------------------------------------------------


def test_llm_sql_frame_is_what_read_csv_gives_for_the_dataset(shared_data):
    _needs("pandas")
    import pandas as pd

    from evaluators.llm_sql.frames import to_frame
    from evaluators.llm_sql.table import load_csv

    beer = shared_data / "llm_sql" / "beer.csv"
    table = load_csv(beer, [["beer/beerId", "beer/name"]])
    pd.testing.assert_frame_equal(to_frame(table.columns, table.cells), pd.read_csv(beer, low_memory=False))


def test_llm_sql_returned_frame_maps_back_to_the_leaderboards_prompts():
    _needs("pandas")
    import random

    import pandas as pd

    from evaluators.llm_sql.frames import FrameError, frame_to_plan, rendered_rows, to_frame
    from evaluators.llm_sql.plan import check_plan, prompt_strings
    from evaluators.llm_sql.table import from_raw

    rng = random.Random(3)
    raw = [
        [
            rng.choice(["x", "yy", "", "x"]),
            str(rng.choice([1, 2, 10])),
            rng.choice(["4.5", "4.50", ""]),
            rng.choice(["ab", "b"]),
            rng.choice(["a", "bab"]),
        ]
        for _ in range(60)
    ]
    raw += [list(raw[0]) for _ in range(3)]  # identical rows are interchangeable
    table = from_raw("t", ["s", "i", "f", "g1", "g2"], raw, [["g1", "g2"]])
    frame = to_frame(table.columns, table.cells)
    rows = []
    for r in rng.sample(range(len(raw)), len(raw)):  # rows shuffled, cells moved, the group merged
        values = frame.iloc[r].tolist()
        merged = "".join(f"{values[c]}" for c in rng.choice([(3, 4), (4, 3)]))
        cells = values[:3] + [merged]
        rng.shuffle(cells)
        rows.append(cells)
    returned = pd.DataFrame(rows)
    plan = check_plan(table, [[r, f] for r, f in frame_to_plan(returned, table.cells, table.merge_groups)])
    leaderboard = ["".join(row.fillna("").astype(str).values) for _, row in returned.iterrows()]
    assert prompt_strings(table, plan) == leaderboard == ["".join(t) for t in rendered_rows(returned)]

    edited = returned.copy()
    edited.iat[5, 0] = "invented"
    with pytest.raises(FrameError, match="row 5 of the returned DataFrame"):
        frame_to_plan(edited, table.cells, table.merge_groups)
    numeric = pd.DataFrame({"a": [1, 2], "b": [0.5, float("nan")]})  # iterrows upcasts such rows
    assert rendered_rows(numeric) == [("1.0", "0.5"), ("2.0", "")]
