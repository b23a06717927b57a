"""Order database transactions so that each workload finishes as early as possible (minimum makespan).

get_best_schedule(workload, num_seqs) -> (makespan, schedule) is called once per workload, in one
process, with the workloads of a stage in turn. `schedule` must be a permutation of
range(workload.num_txns). The simulator places transactions one by one in schedule order, each as
early as its locks allow (a write waits for every earlier lock entry on its key, a read waits only
for the latest write), and the makespan is the latest finishing time. What `workload` offers:

  workload.num_txns             number of transactions
  workload.txns[i]              transaction i's keyed tokens: (op type "r"/"w", key, position, length)
  workload.get_opt_seq_cost(s)  makespan of the sequence s (a prefix is fine); ONE budgeted call
  workload.calls_left           calls left in this workload's budget (workload.budget in all)
  workload.best_seen()          (makespan, schedule) of the best complete schedule evaluated so far

Past the budget get_opt_seq_cost raises BudgetExhausted (not an Exception subclass); the best
complete schedule evaluated so far is then used. The evaluator recomputes every makespan itself.
`random` is seeded (42) before the first workload. Starting point: the leaderboard's initial
program, SMF greedy with sampling (10 sampled candidates per step, random first transaction).
"""

# EVOLVE-BLOCK-START
import random


def get_best_schedule(workload, num_seqs):
    """Greedy: start from a random transaction, then repeatedly append the best of a few sampled ones."""
    num_samples = 10  # the leaderboard's initial program samples 10 whatever num_seqs is
    sample_rate = 1.0  # probability of a greedy step (else: append a random transaction)
    n = workload.num_txns

    start_txn = random.randint(0, n - 1)
    txn_seq = [start_txn]
    remaining = [t for t in range(n) if t != start_txn]
    for _ in range(n - 1):
        if random.random() > sample_rate:
            txn_seq.append(remaining.pop(random.randint(0, len(remaining) - 1)))
            continue
        best_cost, best_txn = None, -1
        sampled = []
        for _ in range(num_samples):
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


# EVOLVE-BLOCK-END
