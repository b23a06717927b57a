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
from collections.abc import Iterable
from dataclasses import dataclass, field

from adrs.archive.records import ProgramRecord

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
    """Compares a child with the programs of its island; shingle sets are cached per program id."""

    threshold: float  # reject when similarity to an island member is strictly above this
    k: int = 4
    rejected: int = 0
    _cache: dict[int, frozenset[int]] = field(default_factory=dict)

    def _of(self, program: ProgramRecord) -> frozenset[int]:
        if program.id not in self._cache:
            self._cache[program.id] = shingles(program.code, self.k)
        return self._cache[program.id]

    def most_similar(self, code: str, members: Iterable[ProgramRecord]) -> float:
        mine = shingles(code, self.k)
        return max((jaccard(mine, self._of(p)) for p in members), default=0.0)

    def admits(self, island: int, code: str, members: Iterable[ProgramRecord]) -> bool:
        """True if the child is novel enough among `members` (its island's programs); counts rejections."""
        if self.most_similar(code, members) > self.threshold:
            self.rejected += 1
            return False
        return True
