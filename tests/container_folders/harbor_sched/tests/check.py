"""Checks /app/solution.py's order and writes the reward (best total completion time / achieved)."""

import importlib.util
import json

DURATIONS = [6, 2, 8, 3, 5]


def total_completion(durations, order):
    clock = total = 0
    for index in order:
        clock += durations[index]
        total += clock
    return total


def main():
    spec = importlib.util.spec_from_file_location("solution", "/app/solution.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    order = [int(i) for i in module.order(list(DURATIONS))]
    if sorted(order) != list(range(len(DURATIONS))):
        print(f"not a permutation: {order}")
        reward = {"reward": 0.0}
    else:
        achieved = total_completion(DURATIONS, order)
        best = total_completion(DURATIONS, sorted(range(len(DURATIONS)), key=DURATIONS.__getitem__))
        print(f"total completion time {achieved} (best {best})")
        reward = {"reward": best / achieved, "total_completion": achieved}
    with open("/logs/verifier/reward.json", "w") as out:
        json.dump(reward, out)


if __name__ == "__main__":
    main()
