"""The prefix hit rate of a sequence of prompt strings, as the original's character trie defines it.

Owns: `prefix_hits` and `hit_rate`. Each string's hit is the length of its longest common prefix
with ANY earlier string (what walking a trie of all earlier strings finds); the rate is the sum of
hits over the sum of lengths.

How it is fast: the earlier string sharing the longest prefix with s is, among the earlier
strings, the nearest to s in sorted order, on one side or the other. Sort the strings once; in
that order, the nearest earlier string on the left of a position is its "previous smaller
element" by arrival index (one monotonic stack pass), likewise on the right. So each hit is the
larger of two LCPs: O(n log n) comparisons in C instead of a Python loop over every character.

Must not: build strings (see plan.py) or decide what is valid.
"""

from __future__ import annotations

from collections.abc import Sequence


def common_prefix_length(a: str, b: str) -> int:
    """Length of the longest common prefix, by binary search on slice equality (done in C)."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # invariant: a[:lo] == b[:lo] and a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def prefix_hits(strings: Sequence[str]) -> list[int]:
    """Per string, the longest prefix it shares with any string before it (0 for the first)."""
    n = len(strings)
    by_text = sorted(range(n), key=strings.__getitem__)  # sorted position -> arrival index
    hits = [0] * n
    for positions in (range(n), range(n - 1, -1, -1)):
        stack: list[int] = []  # arrival indices, increasing from bottom to top
        for p in positions:
            arrival = by_text[p]
            while stack and stack[-1] > arrival:
                stack.pop()
            if stack:
                shared = common_prefix_length(strings[arrival], strings[stack[-1]])
                if shared > hits[arrival]:
                    hits[arrival] = shared
            stack.append(arrival)
    return hits


def hit_rate(strings: Sequence[str]) -> float:
    """Sum of prefix hits over total length, in [0, 1]; 0 for an empty table."""
    total = sum(len(s) for s in strings)
    return sum(prefix_hits(strings)) / total if total else 0.0
