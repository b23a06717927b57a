"""Job ordering policy: evolved by adrs between the EVOLVE-BLOCK markers."""


# EVOLVE-BLOCK-START
def order_jobs(jobs):
    """jobs: list of (processing_time, weight). Return a permutation of range(len(jobs))."""
    return sorted(range(len(jobs)), key=lambda i: jobs[i][0] * 1.0)


# EVOLVE-BLOCK-END
