"""The candidate-side mirror of one routing trace: the policy answers each question as it is asked.

Runs inside the candidate's sandboxed process (problems/llm_routing/driver.py), one trace per
session. `RouterSession` builds an empty trace, a mirror cluster on it and the policy's views,
seeds `random` (and numpy's global generator when numpy is loaded) with the run's seed and builds
`Router(cluster_view)`. Each message then brings the requests that arrived since the previous
question, the output lengths of requests just admitted and the output blocks of requests just
finished (evaluators/llm_serving/episode_kit.py applies them and runs the mirror to the question).
Answers: per routing question an int (an instance id, or -1 for None = hold), per rebalancing
question a list of [request id, instance id] moves. The trusted side checks them again and runs
the simulation that counts.

Must not: compute metrics or scores, or give the policy anything but the views.
"""

from __future__ import annotations

import numbers
from types import ModuleType

from evaluators.llm_routing.cluster import HOLD, REBALANCE, ROUTE, Cluster, Outcome, Recorder
from evaluators.llm_routing.stages import LAYOUTS
from evaluators.llm_routing.views import ClusterView, RequestView
from evaluators.llm_routing.workload import Trace
from evaluators.llm_serving import Job
from evaluators.llm_serving.episode_kit import (
    MirrorLoop,
    PolicyFailure,
    describe,
    failure_record,
    instance_id,
    seed_randomness,
)


def find_router(module: ModuleType) -> type:
    router = getattr(module, "Router", None)
    if not isinstance(router, type) or not callable(getattr(router, "route", None)):
        raise TypeError("the program defines no class Router with a method route(self, request, cluster)")
    return router


def empty_trace() -> Trace:
    return Trace(None, [], [], [], [], [], [], [])


def run_local(router_cls: type, layout_key: str, trace: Trace, seed: int = 0) -> Outcome:
    """Trusted tools only (benchmarks, tests of known programs): the policy answers every question of
    the whole `trace` in this process. Never for a candidate: evaluations go through sessions."""
    session = RouterSession(router_cls, layout_key, seed, whole=trace)
    if "error" in session.ready:
        raise RuntimeError(session.ready["error"]["message"])
    return session.cluster.run(session)


class RouterSession:
    """One trace's mirror (the driver's state); `ready` is what `start` returns."""

    def __init__(
        self, router_cls: type, layout_key: str, seed: int, whole: Trace | None = None, record: Recorder | None = None
    ):
        seed_randomness(seed)
        self.trace = whole or empty_trace()
        self.cluster = Cluster(LAYOUTS[layout_key], self.trace, record=record, mirror=whole is None)
        self.calls = 0
        self.requests: dict[int, RequestView] = {}
        self.view = ClusterView(self.cluster, self.requests)
        self.loop = MirrorLoop(self._apply, self.cluster.steps(), self._wire, self._decide)
        self._count = self.cluster.layout.instances
        try:
            router = router_cls(self.view)
        except Exception as exc:
            failure = PolicyFailure("raised", "Router(cluster) raised")
            failure.__cause__ = exc
            self.ready = failure_record(failure, 0, 0.0)
            return
        self._route = router.route
        self._rebalance = getattr(router, "rebalance", None)
        self.ready = {"rebalance": self._rebalance is not None}

    def _apply(self, message: dict) -> None:
        trace, cluster = self.trace, self.cluster
        for rid, arrival, region, session, prompt_tokens, blocks in message.get("a", ()):
            if rid != len(trace.arrival):
                raise PolicyFailure("diverged", f"request {rid} arrived out of order")
            trace.arrival.append(arrival)
            trace.region.append(region)
            trace.session.append(session)
            trace.prompt_tokens.append(prompt_tokens)
            trace.blocks.append(tuple(blocks))
            trace.output_tokens.append(-1)  # sent when the request is admitted
            trace.out_blocks.append(())  # sent when it finishes
        cluster.extend(len(trace.arrival))
        block = cluster.layout.model.block_tokens
        for rid, output_tokens in message.get("o", ()):
            trace.output_tokens[rid] = output_tokens
            job = cluster.jobs[rid]
            if job is not None:
                job.set_output(output_tokens, block)
        for rid, out_blocks in message.get("f", ()):
            trace.out_blocks[rid] = tuple(out_blocks)
            job = cluster.jobs[rid]
            if job is not None:
                job.out_blocks = trace.out_blocks[rid]

    # --- the mirror's questions ----------------------------------------------------------------------

    def _wire(self, question: tuple) -> list | None:
        if question[0] == ROUTE:
            return [ROUTE, question[1].rid, question[2]]
        return None if self._rebalance is None else [REBALANCE, question[1]]  # asked only if it can move

    def _decide(self, question: tuple) -> tuple[object, object]:
        if question[0] == ROUTE:
            code = self.route(question[1], question[2])
            return code, code
        moves = self.rebalance(question[1])
        return moves, [[rid, target] for rid, target in moves]

    def _request(self, job: Job) -> RequestView:
        view = self.requests.get(job.rid)
        if view is None:
            rid = job.rid
            view = RequestView(job, self.trace.arrival[rid], self.trace.region[rid], self.trace.session[rid])
            self.requests[rid] = view
        return view

    def route(self, job: Job, now: float) -> int:
        self.view.now = now
        try:
            answer = self._route(self._request(job), self.view)
        except Exception as exc:
            raise PolicyFailure("raised", "route raised") from exc
        return HOLD if answer is None else instance_id(answer, self._count, "route", or_none=True)

    def rebalance(self, now: float) -> list[tuple[int, int]]:
        if self._rebalance is None:
            return []  # the trusted side does not ask
        self.view.now = now
        try:
            answer = self._rebalance(self.view)
        except Exception as exc:
            raise PolicyFailure("raised", "rebalance raised") from exc
        return self._check_moves(answer)

    def _check_moves(self, answer: object) -> list[tuple[int, int]]:
        if answer is None:
            return []
        try:
            pairs = list(answer)
        except Exception:
            raise PolicyFailure(
                "invalid", f"rebalance returned {describe(answer)}; expected a list of (request id, instance id) pairs"
            ) from None
        moves = []
        seen = set()
        location = self.cluster.location
        jobs = self.cluster.jobs
        for pair in pairs:
            try:
                rid, target = pair
            except Exception:
                raise PolicyFailure(
                    "invalid",
                    f"rebalance returned the item {describe(pair)}; expected a (request id, instance id) pair",
                ) from None
            if isinstance(rid, bool) or not isinstance(rid, numbers.Integral):
                raise PolicyFailure("invalid", f"rebalance named request {describe(rid)}; expected an int id")
            rid = int(rid)
            target = instance_id(target, self._count, "rebalance")
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
