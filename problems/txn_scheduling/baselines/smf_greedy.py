"""SMF greedy with sampling, seed 42: the leaderboard's human SOTA (352 = 244 + 55 + 53 on the real data).

The leaderboard's initial program with random.seed(42) called once before the first workload,
the workloads then sharing the generator in turn (W1, W2, W3). Seeding here on the first call
keeps the figure independent of the driver's own seeding.
"""

import random

NUM_SAMPLES = 10  # candidates scored per step, whatever num_seqs says (as in the original)
SAMPLE_RATE = 1.0  # probability of a greedy step; the random branch never fires, its draw still happens
_seeded = []


def get_best_schedule(workload, num_seqs):
    if not _seeded:
        random.seed(42)
        _seeded.append(True)
    n = workload.num_txns
    start_txn = random.randint(0, n - 1)
    txn_seq = [start_txn]
    remaining = [t for t in range(n) if t != start_txn]
    for _ in range(n - 1):
        if random.random() > SAMPLE_RATE:
            txn_seq.append(remaining.pop(random.randint(0, len(remaining) - 1)))
            continue
        best_cost, best_txn = None, -1
        sampled = []
        for _ in range(NUM_SAMPLES):
            last = len(remaining) == 1
            idx = 0 if last else random.randint(0, len(remaining) - 1)
            t = remaining.pop(idx)
            sampled.append(t)
            cost = workload.get_opt_seq_cost(txn_seq + [t])
            if best_cost is None or cost < best_cost:  # the first sampled wins ties
                best_cost, best_txn = cost, t
            if last:
                break
        txn_seq.append(best_txn)
        sampled.remove(best_txn)
        remaining.extend(sampled)  # the others go back at the end, in sampling order
    return workload.get_opt_seq_cost(txn_seq), txn_seq
