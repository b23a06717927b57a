"""Pick k numbers from a seeded stream whose sum comes close to a target."""

import random


# EVOLVE-BLOCK-START
def pick(seed, k=3):
    rng = random.Random(seed)
    numbers = [rng.randint(1, 20) for _ in range(10)]
    return sorted(numbers)[:k]


# EVOLVE-BLOCK-END
