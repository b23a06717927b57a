"""Code that runs inside a candidate's process, and where to find it.

The two scripts here are standalone (they import nothing from adrs) and are never imported as
`adrs.candidate.*`: the trusted side copies them by file (the `process` backend: their bytecode,
compiled once per process) into each candidate's private folder and starts them there, so they
work the same under every backend (bwrap and docker show the candidate nothing of this package).

- runner.py   loads the problem's driver and the candidate, calls `driver.run`, writes the result
- confine.py  confines the `process` backend's candidate before runner.py starts (PID and mount
              namespaces, read-only mounts, hidden paths covered, no capabilities)

This file only names their paths, for the harness (RUNNER_SCRIPT) and the `process` backend
(CONFINE_SCRIPT). Must not: import anything from adrs, or be imported by the scripts.
"""

from pathlib import Path

RUNNER_SCRIPT = Path(__file__).with_name("runner.py")
CONFINE_SCRIPT = Path(__file__).with_name("confine.py")
