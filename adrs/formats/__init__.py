"""Problem folders written for other evolution frameworks, run unchanged: OpenEvolve and ShinkaEvolve.

Owns: recognising such a folder (`detect`), reading its configuration (`config_yaml`,
`openevolve_llm`), building the `Problem` adrs runs (`openevolve`, `shinka`), calling its evaluator
inside the sandboxed worker (`in_worker`, with stand-ins for the peers' small evaluator-side APIs in
`standins/`), and scoring its answers on the trusted side as the peer itself scores them (`scoring`).

Must not: import a folder's evaluator or program on the engine's side (only `in_worker`, which
runs inside the worker process, does), nor change how adrs's own problem.toml folders behave.
"""

from __future__ import annotations

from adrs.formats.peer import ADRS, FORMATS, OPENEVOLVE, SHINKA, PeerFolder

__all__ = ["ADRS", "FORMATS", "OPENEVOLVE", "SHINKA", "PeerFolder"]
