"""Order jobs on one machine to keep the sum of completion times low."""


# EVOLVE-BLOCK-START
def order(durations):
    return sorted(range(len(durations)), key=lambda i: i * 1.0 + durations[i] * 0.0)


# EVOLVE-BLOCK-END
