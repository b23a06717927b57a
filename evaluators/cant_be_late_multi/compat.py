"""Lets leaderboard programs run unchanged: rewrites their simulator imports to this package's API.

Owns: a line-preserving rewrite of `from sky_spot.strategies.multi_strategy import ...`,
`from sky_spot.strategies.strategy import ...` and `from sky_spot.utils import ...` into
`from evaluators.cant_be_late_multi.api import ...`, and of `import configargparse` (not a
dependency here; its parser is argparse-compatible) into `import argparse as configargparse`.
Line numbers stay the same, so tracebacks point at the candidate's own lines.

Runs on the trusted side, before the candidate process starts. Must not: change anything else in
the program.
"""

from __future__ import annotations

import re
from pathlib import Path

API_MODULE = "evaluators.cant_be_late_multi.api"
_SKY_SPOT_IMPORT = re.compile(
    r"^(?P<indent>[ \t]*)from[ \t]+sky_spot\.(?:strategies\.(?:multi_strategy|strategy)|utils)[ \t]+import[ \t]",
    re.MULTILINE,
)
_CONFIGARGPARSE = re.compile(r"^(?P<indent>[ \t]*)import[ \t]+configargparse[ \t]*$", re.MULTILINE)


def port_source(source: str) -> str:
    """The source with leaderboard simulator imports pointed at this package (same line count)."""
    source = _SKY_SPOT_IMPORT.sub(lambda m: f"{m['indent']}from {API_MODULE} import ", source)
    return _CONFIGARGPARSE.sub(lambda m: f"{m['indent']}import argparse as configargparse", source)


def port_program(program_path: str | Path, workdir: str | Path) -> Path:
    """Write the ported program into workdir when it needs porting; else return the original path."""
    source = Path(program_path).read_text()
    ported = port_source(source)
    if ported == source:
        return Path(program_path)
    target = Path(workdir) / "ported_program.py"
    target.write_text(ported)
    return target
