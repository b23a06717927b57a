"""A small iteration-level model of one LLM serving instance, shared by llm_routing and kv_ttl.

`ServingModel` holds the hardware/model constants and the iteration-time formula, `PrefixCache`
the block-granular KV cache (reference counts, LRU eviction of unreferenced blocks, pins), and
`Instance` one vLLM-like engine: a waiting queue, chunked prefill, a continuous decode batch,
admission limited by KV capacity and a running-sequence cap. The problems' cluster and agent
loops drive instances; they own the event loop, the decisions and the metrics.

Also the two problems' one episode kit for interactive sessions, imported by path (not from
here): sessions.py, the trusted side (ask, check, one session per trace), and episode_kit.py, the
candidate side (a mirror run fed facts question by question).

Must not (the instance model): know about routing, TTL policies, candidates or scores.
"""

from evaluators.llm_serving.instance import FifoQueue, Instance, Job, PriorityQueue, Unrevealed
from evaluators.llm_serving.model import ServingModel
from evaluators.llm_serving.prefix_cache import PrefixCache

__all__ = ["FifoQueue", "Instance", "Job", "PriorityQueue", "PrefixCache", "ServingModel", "Unrevealed"]
