"""The strategy host: one short-lived trusted process per run of a written selection strategy.

Started by the engine (adrs/search/written_run.py) as `python -I -m adrs.search.written_host` in a
fresh private folder, with the environment a stage's worker gets (the sandbox backend, its probes,
the paths to hide). Reads {"code", "payload", "timeout_s", "memory_mb"} from stdin, writes the code
to strategy.py and runs it as a candidate through the harness (adrs/problemkit/harness.py:
`run_candidate` with adrs/search/written_driver.py as the driver, under the backend the engine
chose), then writes {"ok", "value", "error"} to stdout. The value is the strategy's untrusted
JSON; the engine validates it.

Must not: import or run the strategy here, or parse what it printed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from adrs.problemkit import run_candidate
from adrs.sandbox import ProcessLimits

DRIVER = Path(__file__).with_name("written_driver.py")


def main() -> None:
    request = json.load(sys.stdin)
    folder = Path.cwd()
    strategy = folder / "strategy.py"
    strategy.write_text(request["code"])
    limits = ProcessLimits(timeout_s=float(request["timeout_s"]), memory_mb=int(request["memory_mb"]))
    run = run_candidate(strategy, DRIVER, request["payload"], limits=limits, workdir=folder / "runs")
    answer = {
        "ok": run.ok,
        "value": run.value if run.ok else None,
        "error": "" if run.ok else f"{run.error_kind}: {run.error}",
    }
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    main()
