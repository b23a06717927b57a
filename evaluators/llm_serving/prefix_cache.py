"""The KV cache of one instance, in blocks: shared prefix blocks with reference counts and LRU.

Every resident block has a reference count: the running sequences that use it plus the pins
held on it. Blocks nobody references stay resident as prefix cache and sit in an LRU list; they
are evicted oldest first when room is needed, as vLLM's prefix cache does. A finished request
hands its prompt blocks and the full blocks its output completed to the LRU list tail-first,
so the end of a context is evicted before its beginning. `private` counts the blocks a running
sequence holds that cannot be shared (its last partial block and its output), reserved in full at
admission so that no sequence is ever preempted.

Block ids are opaque integers; a block id stands for its whole prefix (ids are chained), so a
prefix hit is the run of leading ids that are resident.

Must not: decide admission order or timing (the instance does), or know about requests' timing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence


class PrefixCache:
    def __init__(self, capacity_blocks: int):
        self.capacity = capacity_blocks
        self.ref: dict[int, int] = {}  # resident block -> reference count
        self.lru: OrderedDict[int, None] = OrderedDict()  # resident blocks with count 0, oldest first
        self.private = 0

    @property
    def used(self) -> int:
        """Blocks taken, evictable prefix cache included."""
        return len(self.ref) + self.private

    @property
    def referenced(self) -> int:
        """Blocks that cannot be evicted now (in use by a sequence or pinned)."""
        return len(self.ref) - len(self.lru) + self.private

    def match(self, blocks: Sequence[int]) -> int:
        """How many leading blocks of a chain are resident (the prefix-cache hit, in blocks)."""
        ref = self.ref
        hit = 0
        for block in blocks:
            if block not in ref:
                break
            hit += 1
        return hit

    def admit(self, blocks: Sequence[int], private: int) -> int:
        """Reserve a sequence's prompt chain and private blocks; its prefix hit, or -1 if no room.

        Resident blocks of the chain are referenced (a hit only for the leading run; a resident
        block after a gap is shared but its tokens are recomputed), missing ones are allocated,
        evicting unreferenced blocks as needed.
        """
        ref = self.ref
        hit = -1
        missing = 0
        evictable_in_chain = 0
        for index, block in enumerate(blocks):
            count = ref.get(block)
            if count is None:
                missing += 1
                if hit < 0:
                    hit = index
            elif count == 0:
                evictable_in_chain += 1
        if hit < 0:
            hit = len(blocks)
        need = missing + private
        room = self.capacity - len(ref) - self.private + len(self.lru) - evictable_in_chain
        if need > room:
            return -1
        lru = self.lru
        for block in blocks:
            count = ref.get(block)
            if count is not None:
                if count == 0:
                    del lru[block]
                ref[block] = count + 1
        over = len(ref) + self.private + need - self.capacity
        while over > 0:
            victim, _ = lru.popitem(last=False)
            del ref[victim]
            over -= 1
        if missing:
            for block in blocks:
                if block not in ref:
                    ref[block] = 1
        self.private += private
        return hit

    def release(self, blocks: Sequence[int], out_blocks: Sequence[int], private: int) -> None:
        """A sequence finished: its private blocks free, its prompt and output blocks cached."""
        ref = self.ref
        lru = self.lru
        self.private -= private
        for block in reversed(out_blocks):  # full output blocks become shareable prefix cache
            if block not in ref:
                ref[block] = 0
                lru[block] = None
        for block in reversed(blocks):
            count = ref[block] - 1
            ref[block] = count
            if count == 0:
                lru[block] = None

    def pin(self, blocks: Sequence[int]) -> list[int]:
        """Reference every resident block of a chain until `unpin`; returns the pinned blocks."""
        ref = self.ref
        lru = self.lru
        pinned = []
        for block in blocks:
            count = ref.get(block)
            if count is None:
                break  # a chain is only useful up to its first missing block
            if count == 0:
                del lru[block]
            ref[block] = count + 1
            pinned.append(block)
        return pinned

    def unpin(self, pinned: Sequence[int]) -> None:
        ref = self.ref
        lru = self.lru
        for block in reversed(pinned):
            count = ref[block] - 1
            ref[block] = count
            if count == 0:
                lru[block] = None
