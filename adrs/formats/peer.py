"""The record of what a peer framework's folder asks of adrs beyond problem.toml's vocabulary.

Owns: `PeerFolder` (which framework, how its stages map to evaluator functions, which metric names
OpenEvolve leaves out of its fitness, the warnings about configuration adrs does not honour) and
the format names. A `Problem` built from problem.toml has no PeerFolder.

Must not: read files or run anything; it is a plain record shared by the loader, the worker and
the trusted side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ADRS = "adrs"
OPENEVOLVE = "openevolve"
SHINKA = "shinka"
FORMATS = (ADRS, OPENEVOLVE, SHINKA)


@dataclass(frozen=True)
class PeerFolder:
    format: str  # openevolve | shinka
    # stage name -> function of the evaluator module the worker calls for it
    entry_points: dict[str, str] = field(default_factory=dict)
    # OpenEvolve: MAP-Elites dimensions are left out of the fitness when combined_score is missing
    feature_dimensions: tuple[str, ...] = ()
    # one line each, naming the file and the key: configuration that adrs reads but does not honour
    warnings: tuple[str, ...] = ()
    # notes on how a key was translated where the meaning differs a little (shown by `adrs check`)
    notes: tuple[str, ...] = ()
