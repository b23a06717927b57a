"""Identity order 0, 1, ..., n-1: the 0-point anchor of the score (one cost-function call)."""


def get_best_schedule(workload, num_seqs):
    schedule = list(range(workload.num_txns))
    return workload.get_opt_seq_cost(schedule), schedule
