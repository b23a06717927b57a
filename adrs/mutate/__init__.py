"""Mutators: turn a parent program (plus inspirations) into a proposed child program.

`OfflineMutator` is the built-in one, used when no LLM is configured: AST-level edits inside the
EVOLVE-BLOCK regions, deterministic given the rng. Must not: evaluate or archive anything.
"""

from adrs.mutate.offline import DEFAULT_WEIGHTS, OPERATORS, Mutation, OfflineMutator

__all__ = ["DEFAULT_WEIGHTS", "OPERATORS", "Mutation", "OfflineMutator"]
