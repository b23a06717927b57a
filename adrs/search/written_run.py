"""Runs a written selection strategy in the sandbox and reads its answer (adrs/search/written.py).

Owns: the payload a strategy is given (`strategy_payload`: the programs it may choose among, with
what a selection rule looks at, and the run's context), its run (`StrategyHost.run`: a short-lived
trusted process, adrs/search/written_host.py, with the environment a stage's worker gets (the
backend, its probes, the paths candidates must not see: the problem folder, data, the archive,
credentials) starts the model's code through the candidate harness under the run's sandbox
backend, with adrs/search/written_driver.py as its driver, exactly as a problem's candidate is
started, timed from outside), and the validation of what comes back (`read_weights`: weights of
programs it was given, finite and not negative, at least one positive).

Must not: import, exec or eval a strategy in this process (the engine's), trust anything the
strategy's process wrote, or choose a parent (written.py draws from validated weights).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adrs.archive.elites import Elites
from adrs.archive.records import ProgramRecord
from adrs.search.signal import complete_score

if TYPE_CHECKING:
    from adrs.evaluate.runner import EvalSettings
    from adrs.problem import Problem

PER_ISLAND = 40  # an island's best programs a strategy is shown
RECENT = 40  # and the run's latest complete programs (a strategy can favour what is new)
MEMORY_MB = 1024
HOST_GRACE_S = 30.0  # the host's own start and the sandbox's, beyond the strategy's time limit


@dataclass(frozen=True)
class StrategyRun:
    """One run of a strategy: validated weights by program id, or why there are none."""

    weights: dict[int, float] | None
    error: str = ""
    wall_s: float = 0.0


def strategy_payload(view: Elites, islands: list[int], context: dict[str, Any]) -> dict[str, Any]:
    """The programs a strategy chooses among (each active island's best PER_ISLAND and the RECENT
    latest complete programs, every one evaluated completely) and `context`, as JSON."""
    chosen: dict[int, ProgramRecord] = {}
    for island in islands:
        for program in view.ranked(island)[:PER_ISLAND]:
            if complete_score(program) is not None:
                chosen.setdefault(program.id, program)
    arrival = {program.id: i for i, program in enumerate(view.arrivals)}
    recent = [p for p in view.arrivals[-4 * RECENT :] if complete_score(p) is not None][-RECENT:]
    for program in recent:
        chosen.setdefault(program.id, program)
    bests = {best.id for best in map(view.best, islands) if best is not None}
    total = len(view.arrivals)
    programs = []
    for pid in sorted(chosen):
        program = chosen[pid]
        parent = view.programs.get(program.parent_id) if program.parent_id is not None else None
        programs.append(
            {
                "id": pid,
                "island": program.island,
                "score": complete_score(program),
                "generation": program.generation,
                "parent_id": program.parent_id,
                "parent_score": complete_score(parent) if parent is not None else None,
                "children": view.children(program),
                # evaluations taken in since it was (a migrated copy: since its original was)
                "age": total - arrival.get(program.original_id, total),
                "mutator": program.mutator,
                "island_best": pid in bests,
            }
        )
    return {"programs": programs, "context": context}


def read_weights(value: Any, given: set[int]) -> dict[int, float]:
    """The strategy's answer as {program id: weight}; ValueError (one line) when it is not one."""
    if not isinstance(value, dict):
        raise ValueError(f"its answer is a {type(value).__name__}, not weights by program id")
    weights: dict[int, float] = {}
    for key, weight in value.items():
        if not (isinstance(key, str) and key.isdigit() and int(key) in given):
            raise ValueError(f"its answer names program {str(key)[:40]!r}, which it was not given")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight) or weight < 0:
            raise ValueError(f"its weight of program {key} is {weight!r}: weights are finite numbers >= 0")
        weights[int(key)] = float(weight)
    if not any(weight > 0 for weight in weights.values()):
        raise ValueError("its answer gives no program a positive weight")
    return weights


@dataclass(frozen=True)
class StrategyHost:
    """Where a run's strategies run: the problem's candidate sandbox, with what its workers hide."""

    problem: Problem
    settings: EvalSettings

    async def run(self, code: str, payload: dict[str, Any], timeout_s: float) -> StrategyRun:
        """Run `code`'s select() on `payload`: a short-lived trusted process (adrs/search/written_host.py)
        starts it through the candidate harness, in a fresh private folder, timed from outside."""
        import asyncio  # here: `adrs status` and the report read strategies without loading asyncio

        from adrs.evaluate.stage_env import data_folder, sandbox_name, worker_env
        from adrs.sandbox.process import scrubbed_env

        folder = Path(tempfile.mkdtemp(prefix="adrs-strategy-"))
        name, tag = sandbox_name(self.problem, self.settings), secrets.token_hex(8)
        env = scrubbed_env(
            str(folder), worker_env(self.problem, self.settings, name, tag, data_folder(self.problem, self.settings))
        )
        request = json.dumps({"code": code, "payload": payload, "timeout_s": timeout_s, "memory_mb": MEMORY_MB})
        began = time.perf_counter()
        try:
            answer = await _host(request.encode(), env, folder, timeout_s + HOST_GRACE_S)
        finally:
            if name != "process":
                from adrs import sandbox

                await asyncio.to_thread(sandbox.get(name).cleanup, tag)
            shutil.rmtree(folder, ignore_errors=True)
        wall = time.perf_counter() - began
        if isinstance(answer, str):
            return StrategyRun(None, answer, wall)
        if not answer.get("ok"):
            return StrategyRun(None, _last_line(str(answer.get("error") or "it failed")), wall)
        given = {int(p["id"]) for p in payload["programs"]}
        try:
            return StrategyRun(read_weights(answer.get("value"), given), "", wall)
        except ValueError as exc:
            return StrategyRun(None, str(exc), wall)


async def _host(request: bytes, env: dict[str, str], folder: Path, timeout_s: float) -> dict[str, Any] | str:
    """The host's answer ({"ok", "value", "error"}), or why there is none (a line)."""
    import asyncio

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-I", "-m", "adrs.search.written_host",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env, cwd=folder, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(request), timeout_s)
    except TimeoutError:
        _kill(proc.pid)
        await proc.wait()
        return f"its run did not end within {timeout_s:.0f} s"
    except asyncio.CancelledError:  # the run is stopping: nothing outlives it
        _kill(proc.pid)
        raise
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        return f"the strategy host failed: {tail[0][:300]}"
    try:
        answer = json.loads(out)
    except ValueError:
        return "the strategy host wrote no answer"
    return answer if isinstance(answer, dict) else "the strategy host wrote no answer"


def _last_line(error: str) -> str:
    """`kind: message` in one line: a traceback's last line (the exception) after the kind."""
    kind, _, message = error.partition(": ")
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return f"{kind}: {lines[-1] if lines else 'no message'}"[:400]


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
