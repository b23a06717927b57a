"""Approximate cos(x) on [-1, 1] with a polynomial."""


# EVOLVE-BLOCK-START
def approximate(x):
    return 1.0 - 0.4 * x * x


# EVOLVE-BLOCK-END
