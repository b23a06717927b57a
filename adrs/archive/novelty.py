"""Novelty before evaluation: reject a child that is nearly the same program as one already kept.

Owns: token-shingle fingerprints of programs and their Jaccard similarity. A child whose
similarity to any program already on its island is above the threshold is rejected before it
costs an evaluation (exact duplicates are caught earlier, by the normalised hash).

Must not: look at scores; novelty is about code only.
"""

from __future__ import annotations

import io
import tokenize
import zlib
from dataclasses import dataclass, field

_SKIPPED = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}


def tokens(code: str) -> list[str]:
    """Python tokens without comments and layout; falls back to whitespace words if it does not tokenize."""
    try:
        return [t.string for t in tokenize.generate_tokens(io.StringIO(code).readline) if t.type not in _SKIPPED]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return code.split()


def _stable_hash(parts: list[str]) -> int:
    # Not hash(): string hashing is salted per process, and runs must be reproducible.
    return zlib.crc32("\x00".join(parts).encode())


def shingles(code: str, k: int = 4) -> frozenset[int]:
    toks = tokens(code)
    if len(toks) < k:
        return frozenset({_stable_hash(toks)})
    return frozenset(_stable_hash(toks[i : i + k]) for i in range(len(toks) - k + 1))


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


@dataclass
class NoveltyFilter:
    """Per-island shingle sets of the programs kept so far."""

    threshold: float  # reject when similarity to an island member is strictly above this
    k: int = 4
    islands: dict[int, list[frozenset[int]]] = field(default_factory=dict)
    rejected: int = 0

    def add(self, island: int, code: str) -> None:
        self.islands.setdefault(island, []).append(shingles(code, self.k))

    def most_similar(self, island: int, code: str) -> float:
        mine = shingles(code, self.k)
        return max((jaccard(mine, other) for other in self.islands.get(island, [])), default=0.0)

    def admits(self, island: int, code: str) -> bool:
        """True if the child is novel enough for its island; counts rejections."""
        if self.most_similar(island, code) > self.threshold:
            self.rejected += 1
            return False
        return True
