"""The KV-TTL problem's fixed workload: the serving instance and the agent traces per stage.

Stages: `quick` (one short SWE-bench-like trace), `full` (SWE-bench-like traces on the 8B model
with an 80 GB and a 40 GB KV budget, and a BFCL-like trace on the 70B one), `holdout` (the same
three from other seeds). Fixed by the problem: evaluate()'s
seed does not change them.

Must not: run simulations (anchors.py pins the figures computed from these specs).
"""

from __future__ import annotations

import dataclasses

from evaluators.kv_ttl.engine import Setup
from evaluators.kv_ttl.workload import BLOCK_TOKENS, AgentSpec
from evaluators.llm_serving import ServingModel

# Llama-3.1-8B-class (128 KiB of KV per token) on one 80 GB GPU: 393,216 tokens of KV cache, about
# 12,000 prefill tokens/s, a 10-40 ms decode step; vLLM's default cap of 256 running sequences;
# chunked prefill of 4,096 tokens per iteration.
LLAMA_8B = ServingModel(block_tokens=BLOCK_TOKENS, kv_blocks=1536, max_running=256, token_budget=4096)
# The same model on a 40 GB GPU: 196,608 tokens of KV cache, where long pins crowd out admissions.
LLAMA_8B_40G = dataclasses.replace(LLAMA_8B, kv_blocks=768)
# Llama-3.1-70B-class (320 KiB of KV per token) on two 80 GB GPUs (tensor parallel): 131,072 tokens
# of KV cache left beside the weights, about 4,000 prefill tokens/s, a 30-60 ms decode step.
LLAMA_70B = ServingModel(
    block_tokens=BLOCK_TOKENS,
    kv_blocks=512,
    max_running=256,
    token_budget=4096,
    step_s=0.030,
    per_sequence_s=0.0003,
    per_prefill_token_s=1.0 / 4000.0,
    per_context_token_s=5e-8,
)
SETUPS = {"llama8b": Setup(LLAMA_8B), "llama8b-40g": Setup(LLAMA_8B_40G), "llama70b": Setup(LLAMA_70B)}

STAGES: dict[str, tuple[AgentSpec, ...]] = {
    "quick": (AgentSpec("swe/quick", 11, 40, 24),),
    "full": (
        AgentSpec("swe/a", 21, 60, 20),
        AgentSpec("swe/b", 22, 60, 12, setup="llama8b-40g"),
        AgentSpec("bfcl/a", 23, 400, 160, "bfcl", "llama70b"),
    ),
    "holdout": (
        AgentSpec("holdout/swe", 9021, 60, 22),
        AgentSpec("holdout/swe-40g", 9022, 60, 12, setup="llama8b-40g"),
        AgentSpec("holdout/bfcl", 9023, 400, 160, "bfcl", "llama70b"),
    ),
}


def stage_specs(stage: str) -> tuple[AgentSpec, ...]:
    if stage not in STAGES:
        raise ValueError(f"kv_ttl has no stage {stage!r}; stages: {sorted(STAGES)}")
    return STAGES[stage]
