"""A program whose true quality is the number it returns."""


# EVOLVE-BLOCK-START
def quality():
    return 50.0


# EVOLVE-BLOCK-END
