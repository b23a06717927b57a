"""The candidate-side run: the policy routes every request of a payload's traces, online.

Runs inside the candidate's sandboxed process (called by problems/llm_routing/driver.py). For each
trace it builds a fresh cluster simulator and a fresh `Router(cluster_view)`, seeds `random` (and
numpy's global generator when numpy is loaded) with the run's seed, and runs the simulator with a
decider that asks the policy each question and logs the checked answer: per routing question one
int (an instance id, or -1 for None = hold), per rebalancing question the number of moves and
then (request id, instance id) pairs. The log is all that goes back; the trusted side replays it.

Must not: compute metrics or scores, or give the policy anything but the views.
"""

from __future__ import annotations

import numbers
import random
import sys
import traceback
from types import ModuleType

from evaluators.llm_routing.cluster import HOLD, Cluster
from evaluators.llm_routing.stages import LAYOUTS
from evaluators.llm_routing.views import ClusterView, RequestView
from evaluators.llm_routing.workload import Trace, trace_from_payload
from evaluators.llm_serving import Job

_TRACEBACK_FRAMES = 8


class PolicyFailure(Exception):
    """The policy raised, or answered something that is not a valid decision."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind  # "raised" or "invalid"
        self.where = ""


def find_router(module: ModuleType) -> type:
    router = getattr(module, "Router", None)
    if not isinstance(router, type) or not callable(getattr(router, "route", None)):
        raise TypeError("the program defines no class Router with a method route(self, request, cluster)")
    return router


def _describe(value: object) -> str:
    try:
        text = repr(value)
    except Exception:
        text = "<unprintable>"
    return f"{text[:80]} ({type(value).__name__})"


class PolicyDecider:
    """Asks the policy, checks and logs its answers."""

    def __init__(
        self, router: object, cluster: Cluster, view: ClusterView, requests: dict[int, RequestView], trace: Trace
    ):
        self.calls = 0
        self.log: list[int] = []
        self._route = router.route
        self._rebalance = getattr(router, "rebalance", None)
        self._cluster = cluster
        self._view = view
        self._requests = requests
        self._trace = trace
        self._count = len(cluster.instances)

    def _request(self, job: Job) -> RequestView:
        view = self._requests.get(job.rid)
        if view is None:
            rid = job.rid
            view = RequestView(job, self._trace.arrival[rid], self._trace.region[rid], self._trace.session[rid])
            self._requests[rid] = view
        return view

    def _instance_id(self, value: object, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= int(value) < self._count:
            raise PolicyFailure(
                "invalid",
                f"{what} returned {_describe(value)}; expected an instance id "
                f"in 0..{self._count - 1}" + (" or None" if what == "route" else ""),
            )
        return int(value)

    def route(self, job: Job, now: float) -> int:
        self.calls += 1
        self._view.now = now
        try:
            answer = self._route(self._request(job), self._view)
        except Exception as exc:
            raise PolicyFailure("raised", "route raised") from exc
        code = HOLD if answer is None else self._instance_id(answer, "route")
        self.log.append(code)
        return code

    def rebalance(self, now: float) -> list[tuple[int, int]]:
        self.calls += 1
        if self._rebalance is None:
            self.log.append(0)
            return []
        self._view.now = now
        try:
            answer = self._rebalance(self._view)
        except Exception as exc:
            raise PolicyFailure("raised", "rebalance raised") from exc
        moves = self._check_moves(answer)
        self.log.append(len(moves))
        for rid, target in moves:
            self.log.append(rid)
            self.log.append(target)
        return moves

    def _check_moves(self, answer: object) -> list[tuple[int, int]]:
        if answer is None:
            return []
        try:
            pairs = list(answer)
        except Exception:
            raise PolicyFailure(
                "invalid", f"rebalance returned {_describe(answer)}; expected a list of (request id, instance id) pairs"
            ) from None
        moves = []
        seen = set()
        location = self._cluster.location
        jobs = self._cluster.jobs
        for pair in pairs:
            try:
                rid, target = pair
            except Exception:
                raise PolicyFailure(
                    "invalid",
                    f"rebalance returned the item {_describe(pair)}; expected a (request id, instance id) pair",
                ) from None
            if isinstance(rid, bool) or not isinstance(rid, numbers.Integral):
                raise PolicyFailure("invalid", f"rebalance named request {_describe(rid)}; expected an int id")
            rid = int(rid)
            target = self._instance_id(target, "rebalance")
            job = jobs[rid] if 0 <= rid < len(jobs) else None
            if job is None or location[rid] == HOLD or job.admitted_at != float("inf") or rid in seen:
                raise PolicyFailure(
                    "invalid",
                    f"rebalance moved request {rid}, which is not waiting in an "
                    "instance's queue now (or was named twice)",
                )
            seen.add(rid)
            moves.append((rid, target))
        return moves


def _seed_randomness(seed: int) -> None:
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed % 2**32)


def run_trace(router_cls: type, layout_key: str, trace: Trace, seed: int) -> PolicyDecider:
    _seed_randomness(seed)
    cluster = Cluster(LAYOUTS[layout_key], trace)
    requests: dict[int, RequestView] = {}
    view = ClusterView(cluster, requests)
    try:
        router = router_cls(view)
    except Exception as exc:
        raise PolicyFailure("raised", "Router(cluster) raised") from exc
    decider = PolicyDecider(router, cluster, view, requests, trace)
    try:
        cluster.run(decider)
    except PolicyFailure as exc:
        exc.where = f"at question {decider.calls} (t={cluster.now:.3f} s)"
        raise
    return decider


def run_payload(module: ModuleType, payload: dict) -> dict:
    """Every run of the payload, in order: {"runs": [...]} or {"error": {...}} (untrusted)."""
    router_cls = find_router(module)
    runs = []
    for index, entry in enumerate(payload["runs"]):
        trace = trace_from_payload(entry["trace"])
        try:
            decider = run_trace(router_cls, entry["layout"], trace, entry["seed"])
        except PolicyFailure as exc:
            cause = exc.__cause__
            detail = "".join(traceback.format_exception(cause, limit=-_TRACEBACK_FRAMES, chain=False)) if cause else ""
            message = f"{exc} {exc.where}".strip()
            return {"error": {"index": index, "kind": exc.kind, "message": f"{message}\n{detail}"[-3000:]}}
        runs.append({"answers": decider.log, "calls": decider.calls})
    return {"runs": runs}
