"""Choose a cache size: more hits, but a bigger cache is slower to scan."""


# EVOLVE-BLOCK-START
def cache_size():
    return 4


# EVOLVE-BLOCK-END
