"""Problem folders written for other evolution frameworks, run unchanged.

OpenEvolve and ShinkaEvolve: recognising such a folder (`detect`), reading its configuration
(`config_yaml`, `openevolve_llm`), building the `Problem` adrs runs (`openevolve`, `shinka`),
calling its evaluator inside the sandboxed worker (`in_worker`, with stand-ins for the peers' small
evaluator-side APIs in `standins/`), and scoring its answers on the trusted side as the peer itself
scores them (`scoring`).

Container formats, whose evaluator lives in the folder's own Docker image: SkyDiscover's container
benchmarks (`container`) and Harbor tasks (`harbor`), one stage run from the engine in a fresh
container (`container_stage`), the answer read and scored on the trusted side (`container_scoring`).

Must not: import a folder's evaluator or program on the engine's side (only `in_worker`, which
runs inside the worker process, does), nor change how adrs's own problem.toml folders behave.
"""

from __future__ import annotations

from adrs.formats.peer import ADRS, CONTAINER, FORMATS, HARBOR, OPENEVOLVE, SHINKA, ContainerSpec, PeerFolder

__all__ = ["ADRS", "CONTAINER", "FORMATS", "HARBOR", "OPENEVOLVE", "SHINKA", "ContainerSpec", "PeerFolder"]
