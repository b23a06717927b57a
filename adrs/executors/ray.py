"""The Ray executor: each program's stage cascade is one Ray task, placed by the problem's [resources].

Owns: starting a local Ray (its session files inside the run's directory, no dashboard, no usage
reporting) or connecting to a cluster (`--ray-address`); checking that some node offers what the
problem declares (CPUs, GPUs, memory), so a GPU problem fails at start-up rather than waiting
forever; shipping the problem directory once through the object store; and turning lost workers
into recorded failures. A task whose worker process or node dies is retried (`max_retries`), then
comes back as a failed evaluation saying so: never lost, never silently dropped.

On the node the task runs the same sandboxed cascade as the local executor (adrs/executors/node.py):
the evaluator still runs in a fresh sandboxed worker, the candidate still only through the harness.

Must not: touch the archive (the engine writes results), or be imported unless Ray is chosen
(Ray is the optional extra `adrs[ray]`).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from adrs.evaluate.result import Evaluation
from adrs.evaluate.runner import EvalSettings
from adrs.executors.base import Executor, ExecutorError
from adrs.executors.node import evaluate_on_node, node_settings, pack_problem
from adrs.problem import Problem, Stage
from adrs.problemkit import failures

DEFAULT_MAX_RETRIES = 2  # a dead worker or node: the task runs again elsewhere, then is a failure
_SOCKET_ROOM = 40  # Ray puts sockets at <temp>/session_<41 chars>/sockets/plasma_store (107-byte limit)


def _import_ray() -> Any:
    try:
        import ray
    except ModuleNotFoundError as exc:
        raise ExecutorError("the Ray executor needs Ray: pip install 'adrs[ray]'") from exc
    return ray


class RayExecutor(Executor):
    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        run_dir: Path | None = None,
        workers: int = 1,
        max_retries: int = DEFAULT_MAX_RETRIES,
        object_store_mb: int = 256,
    ):
        self.address = address
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.workers = workers
        self.max_retries = max_retries
        self.object_store_mb = object_store_mb
        self._ray: Any = None
        self._owns_ray = False  # started (or connected) here: shut down in close()
        self._link: Path | None = None
        self._bundle: Any = None
        self._fingerprint = ""
        self._task: Any = None
        self._options: dict[str, Any] = {}
        self._node_root: str | None = None

    # start and stop ---------------------------------------------------------------------------
    def start(self, problem: Problem) -> None:
        ray = self._ray = _import_ray()
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if ray.is_initialized():
            pass  # this process already holds a Ray connection (a test's, a notebook's): use it
        elif self.address:
            ray.init(address=self.address, log_to_driver=False, logging_level="WARNING")
            self._owns_ray = True
        else:
            self._start_local(ray, problem)
        self._check_feasible(ray, problem)
        self._fingerprint = problem.fingerprint()
        try:
            self._bundle = ray.put(pack_problem(problem.root))
        except ValueError as exc:
            raise ExecutorError(str(exc)) from exc
        resources = problem.resources
        options: dict[str, Any] = {
            "num_cpus": resources.cpus,
            "num_gpus": resources.gpus,
            "max_retries": self.max_retries,
            "retry_exceptions": False,  # an exception on the trusted side is a bug: do not repeat it
        }
        if resources.memory_mb:
            options["memory"] = resources.memory_mb << 20
        self._options = options
        self._task = ray.remote(evaluate_on_node)

    def _start_local(self, ray: Any, problem: Problem) -> None:
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # else Ray writes a token under ~/.ray
        if self.run_dir is None:
            raise ExecutorError("a local Ray needs the run's directory for its session files")
        files = (self.run_dir / "ray").resolve()
        files.mkdir(parents=True, exist_ok=True)
        self._node_root = str(self.run_dir.resolve() / "node")  # unpacked problem, program files
        temp_dir = self._short_path(files)
        cpus = max(os.cpu_count() or 1, math.ceil(self.workers * problem.resources.cpus))
        ray.init(
            num_cpus=cpus,
            include_dashboard=False,
            _temp_dir=str(temp_dir),
            object_store_memory=self.object_store_mb << 20,
            log_to_driver=False,
            logging_level="WARNING",
        )
        self._owns_ray = True

    def _short_path(self, files: Path) -> Path:
        """`files`, or a short link to it in the temporary folder where the path is too long for sockets."""
        if len(str(files)) <= _SOCKET_ROOM:
            return files
        digest = hashlib.sha256(str(files).encode()).hexdigest()[:12]
        link = Path(tempfile.gettempdir()) / f"adrs-ray-{digest}"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(files, target_is_directory=True)
        self._link = link
        return link

    def _check_feasible(self, ray: Any, problem: Problem) -> None:
        resources = problem.resources
        need = {"CPU": resources.cpus, "GPU": resources.gpus, "memory": float((resources.memory_mb or 0) << 20)}
        need = {k: v for k, v in need.items() if v > 0}
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        if any(all(n.get("Resources", {}).get(k, 0.0) >= v for k, v in need.items()) for n in nodes):
            return
        offered = "; ".join(
            ", ".join(f"{k}={v:g}" for k, v in sorted(n.get("Resources", {}).items()) if k in ("CPU", "GPU", "memory"))
            for n in nodes
        )
        declared = ", ".join(f"{k}={v:g}" for k, v in need.items())
        raise ExecutorError(
            f"{problem.root / 'problem.toml'}: [resources] asks for {declared} per evaluation, "
            f"but no node of the Ray cluster offers it (nodes: {offered or 'none alive'})"
        )

    def close(self) -> None:
        if self._ray is not None and self._owns_ray:
            self._ray.shutdown()
            self._owns_ray = False
        if self._link is not None:
            self._link.unlink(missing_ok=True)
            self._link = None

    # evaluating --------------------------------------------------------------------------------
    async def evaluate(
        self,
        problem: Problem,
        code: str,
        settings: EvalSettings,
        stages: tuple[Stage, ...] | None = None,
        label: str = "",
    ) -> list[Evaluation]:
        if self._task is None:
            raise ExecutorError("RayExecutor.evaluate called before start()")
        ray = self._ray
        first = (stages or problem.evolution_stages)[0].name
        names = [s.name for s in stages] if stages is not None else None
        task = self._task.options(name=f"adrs:{problem.name}:{label or 'program'}", **self._options)
        ref = task.remote(self._bundle, self._fingerprint, code, node_settings(settings), names, self._node_root)
        try:
            rows = await ref
        except asyncio.CancelledError:
            ray.cancel(ref, force=True)  # kills the Ray worker; its sandboxed worker dies with it
            raise
        except ray.exceptions.RayTaskError as exc:
            return [
                Evaluation.failure(first, failures.EVALUATOR, f"the Ray task raised on its node: {_first_line(exc)}")
            ]
        except ray.exceptions.OutOfMemoryError as exc:
            return [
                Evaluation.failure(
                    first, failures.MEMORY, f"Ray's memory monitor killed the evaluation: {_first_line(exc)}"
                )
            ]
        except ray.exceptions.RayError as exc:
            return [
                Evaluation.failure(
                    first,
                    failures.NONZERO_EXIT,
                    f"the Ray worker evaluating it was lost ({type(exc).__name__}), "
                    f"after {self.max_retries} retries: {_first_line(exc)}",
                )
            ]
        return [Evaluation(**row) for row in rows]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
