"""Estimate the square root of two with a few Newton steps."""


# EVOLVE-BLOCK-START
def estimate():
    guess = 1.0
    for _ in range(2):
        guess = 0.5 * (guess + 2.0 / guess)
    return guess


# EVOLVE-BLOCK-END
