"""Fit y = a * x + b to a few points."""


# EVOLVE-BLOCK-START
def coefficients():
    return 1.0, 0.0


# EVOLVE-BLOCK-END
