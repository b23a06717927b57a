"""Constants of one serving instance and the time of one engine iteration.

An iteration runs every decoding sequence for one token plus up to `token_budget` prompt tokens
of chunked prefill (vLLM's scheduler with chunked prefill). Its time is linear in the work:
a fixed part (reading the weights), a part per decoding sequence, a part per prefill token, and
the attention read of the decoding sequences' context. The default constants are those of an
8B-parameter model in bf16 on one 80 GB-class GPU (about 12,000 prefill tokens/s, a 10-30 ms
decode step); each problem states the values it uses.

Must not: hold state; everything here is a pure function of the constants.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServingModel:
    """One instance's capacity and speed. Token counts are integers, times are seconds."""

    block_tokens: int = 512  # KV-cache block (page) size; prefix reuse is counted in whole blocks
    kv_blocks: int = 512  # KV capacity in blocks (262,144 tokens at 512 tokens per block)
    max_running: int = 64  # running sequences (prefilling + decoding) at most
    token_budget: int = 4096  # tokens one iteration processes (decodes count one each)
    step_s: float = 0.008  # fixed cost of an iteration
    per_sequence_s: float = 0.00012  # per decoding sequence
    per_prefill_token_s: float = 1.0 / 12000.0  # per prompt token computed
    per_context_token_s: float = 2.5e-8  # attention read per context token of a decoding sequence

    def iteration_s(self, decoding: int, context_tokens: int, prefill_tokens: int) -> float:
        return (
            self.step_s
            + self.per_sequence_s * decoding
            + self.per_prefill_token_s * prefill_tokens
            + self.per_context_token_s * context_tokens
        )

    def isolated_prefill_s(self, tokens: int) -> float:
        """Time to compute `tokens` prompt tokens alone on an idle instance (chunked)."""
        if tokens <= 0:
            return 0.0
        chunks = -(-tokens // self.token_budget)
        return chunks * self.step_s + tokens * self.per_prefill_token_s

    def isolated_decode_s(self, output_tokens: int, context_tokens: int) -> float:
        """Time of the decode iterations after the first token, alone on the instance."""
        steps = max(0, output_tokens - 1)
        return steps * self.iteration_s(1, context_tokens + output_tokens // 2, 0)

    @property
    def kv_tokens(self) -> int:
        return self.kv_blocks * self.block_tokens
