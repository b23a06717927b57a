"""The offline mutator: random AST-level edits inside EVOLVE-BLOCK regions, no LLM needed.

mutator.py picks and applies operators and checks each child (`OfflineMutator`), and adapts it to
the engine (`OfflineSource`); the operators live in constants.py (numeric literals),
expressions.py (comparisons, arithmetic, booleans, sorts), statements.py (delete, duplicate,
swap) and crossover.py (grafts from inspirations); sites.py parses a program once into what an
operator may touch, splices.py turns AST positions into exact text edits.

Must not: evaluate or archive anything, or use randomness other than the rng it is given.
"""

from adrs.mutate.offline.mutator import DEFAULT_WEIGHTS, OPERATORS, Mutation, OfflineMutator, OfflineSource

__all__ = ["DEFAULT_WEIGHTS", "OPERATORS", "Mutation", "OfflineMutator", "OfflineSource"]
